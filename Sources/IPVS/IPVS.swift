import CNetlink
// The IPVS module: see DESIGN.md. Its issue fills it in.
