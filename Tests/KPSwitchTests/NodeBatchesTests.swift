import Testing
@testable import KPSwitch

@Suite("node batches")
struct NodeBatchesTests {
    @Test("cumulative targets become batch sizes", arguments: [
        ("1,10%,25%,100%", 3, [1, 1, 1]), ("1,10%,25%,100%", 1_000, [1, 99, 150, 750]),
        ("1,10%,25%,100%", 1, [1]), ("2,100%", 5, [2, 3]), ("50%,100%", 5, [3, 2]), ("10,100%", 4, [4]),
    ])
    func sizes(_ text: String, _ nodes: Int, _ expected: [Int]) throws {
        let batches = try NodeBatches(parsing: text)
        #expect(batches.batchSizes(nodeCount: nodes) == expected)
        #expect(batches.batchSizes(nodeCount: nodes).reduce(0, +) == nodes)
    }

    @Test("the default is one canary node, then 10%, 25%, all")
    func defaults() {
        #expect(NodeBatches.default.targets == [.nodes(1), .percent(10), .percent(25), .percent(100)])
    }

    @Test("malformed targets are usage errors", arguments: ["", "1,50%", "0,100%", "1,101%", "x,100%", "1,,100%", "-1,100%"])
    func malformed(_ text: String) {
        #expect(throws: KPSwitchError.self) { try NodeBatches(parsing: text) }
    }
}
