/// Every virtual service of a network namespace with its destinations, as one consistent value.
public struct IPVSTable: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public var service: IPVSService
        public var destinations: [IPVSDestination]

        public init(service: IPVSService, destinations: [IPVSDestination]) {
            self.service = service
            self.destinations = destinations
        }
    }

    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries
    }
}
