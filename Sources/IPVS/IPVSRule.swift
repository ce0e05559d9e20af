/// One line of ipvsadm save/restore text as a command (`-A`, `-E`, `-D`, `-a`, `-e`, `-d`).
/// `-C` (flush everything) is deliberately not a rule: kpswitch never clears what it did not create.
public enum IPVSRule: Hashable, Sendable {
    case addService(IPVSService)
    case editService(IPVSService)
    case deleteService(IPVSService.Key)
    case addDestination(IPVSDestination, service: IPVSService.Key)
    case editDestination(IPVSDestination, service: IPVSService.Key)
    case deleteDestination(IPVSDestination, service: IPVSService.Key)
}
