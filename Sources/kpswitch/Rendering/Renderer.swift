import Foundation
import KPSwitch

/// Prints a report as text or as one JSON document, and ends failed commands with their exit status.
struct Renderer {
    let format: OutputFormat
    let style: TextStyle

    init(options: GlobalOptions?) {
        format = options?.output ?? .text
        style = TextStyle(noColor: options?.noColor ?? false)
    }

    func render<R: Report & TextRenderable>(_ report: R) {
        switch format {
        case .json: print(Self.json(report))
        case .text: print(report.renderText(style), terminator: "")
        }
    }

    /// Prints the failure (JSON on stdout with `-o json`, text on stderr always) and exits with its status.
    func fail(_ error: KPSwitchError) -> Never {
        let report = FailureReport(error)
        if format == .json { print(Self.json(report)) }
        var stderr = StandardError()
        print(report.renderText(TextStyle(noColor: style.noColor, stream: stderr)), terminator: "", to: &stderr)
        exit(error.status.rawValue)
    }

    static func json<R: Report>(_ report: R) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        // The envelope is written by hand around the report's own keys, so kind and apiVersion stay
        // first-class fields without every report repeating them.
        do {
            return String(decoding: try encoder.encode(Envelope(report: report)), as: UTF8.self)
        } catch {
            // Reports are plain values; this only happens on a kpswitch bug, and the reader still gets JSON.
            let message = String(describing: error).replacingOccurrences(of: "\"", with: "'")
            return #"{"apiVersion":"kpswitch/v1","kind":"Failure","exitCode":1,"message":"the report could not be encoded: "#
                + message + #""}"#
        }
    }
}

private struct Envelope<R: Report>: Encodable {
    let report: R

    private enum CodingKeys: String, CodingKey { case apiVersion, kind }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode("kpswitch/v1", forKey: .apiVersion)
        try container.encode(R.kind, forKey: .kind)
        try report.encode(to: encoder)
    }
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandle.standardError.write(Data(string.utf8))
    }
}
