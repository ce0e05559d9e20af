import Foundation

/// How many nodes a canary migration has moved after each batch: `1,10%,25%,100%` means one node, then
/// up to 10% of them, then 25%, then all. Each entry is a cumulative target, not a batch size.
public struct NodeBatches: Equatable, Sendable {
    public enum Target: Equatable, Sendable {
        case nodes(Int)
        case percent(Int)
    }

    public let targets: [Target]

    public static let `default` = NodeBatches(unchecked: [.nodes(1), .percent(10), .percent(25), .percent(100)])
    /// `--final-batches`: every node has proven the mode already, so the second replacement goes in two large steps.
    public static let finalDefault = NodeBatches(unchecked: [.percent(25), .percent(100)])

    private init(unchecked targets: [Target]) {
        self.targets = targets
    }

    /// Parses the `--batches` syntax; the error text names what to write instead.
    public init(parsing text: String) throws(KPSwitchError) {
        var targets: [Target] = []
        for raw in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = raw.trimmingCharacters(in: .whitespaces)
            if item.hasSuffix("%"), let value = Int(item.dropLast()), (1...100).contains(value) {
                targets.append(.percent(value))
            } else if let value = Int(item), value >= 1 {
                targets.append(.nodes(value))
            } else {
                throw Self.invalid("'\(item)' is neither a node count (1, 2, ...) nor a percentage (1% to 100%)")
            }
        }
        guard targets.last == .percent(100) else {
            throw Self.invalid("the last batch must be 100% so that every node is migrated")
        }
        self.init(unchecked: targets)
    }

    /// The number of nodes each batch replaces on a cluster of `nodeCount` nodes. Every target moves at
    /// least one more node, so small clusters still go step by step (1,10%,25%,100% on 3 nodes is 1,1,1).
    public func batchSizes(nodeCount: Int) -> [Int] {
        var done = 0
        var sizes: [Int] = []
        for target in targets where done < nodeCount {
            let goal: Int
            switch target {
            case .nodes(let count): goal = min(max(count, done + 1), nodeCount)
            case .percent(let percent): goal = min(max((nodeCount * percent + 99) / 100, done + 1), nodeCount)
            }
            if goal > done {
                sizes.append(goal - done)
                done = goal
            }
        }
        return sizes
    }

    private static func invalid(_ reason: String) -> KPSwitchError {
        KPSwitchError(
            status: .usageError,
            message: "--batches: \(reason).",
            remediation: "Write cumulative targets such as --batches 1,10%,25%,100%."
        )
    }
}
