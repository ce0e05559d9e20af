#ifndef KPSWITCH_CNETLINK_SHIM_H
#define KPSWITCH_CNETLINK_SHIM_H
// libnl-3 and libnl-genl-3, as far as the IPVS module needs them.
#include <netlink/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#endif
