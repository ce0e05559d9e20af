import Yams

/// The configuration text as Unicode scalars with libyaml's view of lines, so that Yams marks
/// (1-based line, column counted in Unicode scalars) map to exact offsets for in-place edits.
struct SourceText {
    let scalars: [Unicode.Scalar]
    /// Offset of each line's first scalar.
    let lineStarts: [Int]
    /// Offset where each line's break (or the text) ends its content.
    let lineEnds: [Int]
    /// The line break the document uses most, for inserted lines.
    let lineBreak: String

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
        var starts = [0]
        var ends: [Int] = []
        var crlf = 0
        var lf = 0
        var cr = 0
        var index = 0
        // libyaml breaks lines on CR LF, CR and LF; other Unicode breaks are refused before we get here.
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "\r" || scalar == "\n" {
                ends.append(index)
                if scalar == "\r", index + 1 < scalars.count, scalars[index + 1] == "\n" {
                    crlf += 1
                    index += 1
                } else if scalar == "\n" {
                    lf += 1
                } else {
                    cr += 1
                }
                starts.append(index + 1)
            }
            index += 1
        }
        ends.append(scalars.count)
        lineStarts = starts
        lineEnds = ends
        lineBreak = crlf > max(lf, cr) ? "\r\n" : cr > lf ? "\r" : "\n"
    }

    var lineCount: Int { lineStarts.count }

    /// The offset a Yams mark points at, nil when it lies outside the text.
    func offset(of mark: Mark) -> Int? {
        let line = mark.line - 1
        guard line >= 0, line < lineCount else { return nil }
        let offset = lineStarts[line] + mark.column - 1
        guard mark.column >= 1, offset <= lineEnds[line] else { return nil }
        return offset
    }

    /// The 0-based line holding an offset.
    func line(of offset: Int) -> Int {
        var low = 0
        var high = lineCount - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if lineStarts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        return low
    }

    func text(_ range: Range<Int>) -> String {
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars[range])
        return String(result)
    }

    func lineText(_ line: Int) -> String { text(lineStarts[line]..<lineEnds[line]) }

    /// Leading spaces of a line and whether the rest is empty or a comment.
    func lineShape(_ line: Int) -> (indent: Int, isBlankOrComment: Bool) {
        var index = lineStarts[line]
        while index < lineEnds[line], scalars[index] == " " { index += 1 }
        let rest = index < lineEnds[line] ? scalars[index] : nil
        let blank = rest == nil || rest == "#" || (rest == "\t" && lineText(line).allSatisfy { $0 == " " || $0 == "\t" })
        return (index - lineStarts[line], blank)
    }
}

/// One replacement of a range of the source by new text; insertions have an empty range.
struct TextEdit {
    let range: Range<Int>
    let replacement: String
}

extension SourceText {
    func applying(_ edit: TextEdit) -> String {
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars[..<edit.range.lowerBound])
        result.append(contentsOf: edit.replacement.unicodeScalars)
        result.append(contentsOf: scalars[edit.range.upperBound...])
        return String(result)
    }
}
