/// A unified diff of two texts by lines (longest common subsequence), for the plan's config diff.
/// Configuration texts are a few hundred lines at most, so the quadratic table is small.
enum UnifiedDiff {
    static func diff(_ old: String, _ new: String, oldName: String, newName: String, context: Int = 3) -> String {
        let a = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let b = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard a != b else { return "" }
        // lcs[i][j]: length of the LCS of a[i...] and b[j...].
        var lcs = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        enum Line { case same(Int, Int), removed(Int), added(Int) }
        var lines: [Line] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] {
                lines.append(.same(i, j)); i += 1; j += 1
            } else if j < b.count, i == a.count || lcs[i][j + 1] > lcs[i + 1][j] {
                lines.append(.added(j)); j += 1
            } else {
                lines.append(.removed(i)); i += 1
            }
        }
        let changed = lines.indices.filter { if case .same = lines[$0] { false } else { true } }
        var hunks: [ClosedRange<Int>] = []
        for index in changed {
            let range = max(0, index - context)...min(lines.count - 1, index + context)
            if let last = hunks.last, range.lowerBound <= last.upperBound + 1 {
                hunks[hunks.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                hunks.append(range)
            }
        }
        // Lines of each side before each diff line: where a hunk starts.
        var before: [(old: Int, new: Int)] = []
        var consumed = (old: 0, new: 0)
        for line in lines {
            before.append(consumed)
            switch line {
            case .same: consumed.old += 1; consumed.new += 1
            case .removed: consumed.old += 1
            case .added: consumed.new += 1
            }
        }
        var out = "--- \(oldName)\n+++ \(newName)\n"
        for hunk in hunks {
            var oldCount = 0, newCount = 0
            var body = ""
            for line in lines[hunk] {
                switch line {
                case .same(let x, _): oldCount += 1; newCount += 1; body += " \(a[x])\n"
                case .removed(let x): oldCount += 1; body += "-\(a[x])\n"
                case .added(let y): newCount += 1; body += "+\(b[y])\n"
                }
            }
            let start = before[hunk.lowerBound]
            out += "@@ -\(start.old + (oldCount > 0 ? 1 : 0)),\(oldCount) +\(start.new + (newCount > 0 ? 1 : 0)),\(newCount) @@\n" + body
        }
        return out
    }
}
