import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes text to standard error, unbuffered.
func writeStandardError(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}

/// Terminal output helpers: errors and progress go to standard error, results to standard output.
enum CommandLineOutput {
    /// Prints `meshfl: error: …` on standard error.
    static func error(_ message: String) {
        writeStandardError("meshfl: error: \(message)\n")
    }

    /// Prints a line on standard error.
    static func note(_ message: String) {
        writeStandardError("\(message)\n")
    }

    /// Whether standard error is a terminal (progress redraws in place there).
    static let isInteractive: Bool = isatty(STDERR_FILENO) != 0

    /// Seconds since an arbitrary fixed point, monotonic.
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// A one-line progress display: a bar, a count, throughput and a loss.
///
/// On a terminal it redraws in place at most ten times a second; otherwise
/// (logs, CI) it prints a line at most every few seconds and at the end.
struct ProgressBar {
    let label: String
    let total: Int
    private var lastDraw = -1.0
    private let start = CommandLineOutput.now()

    init(label: String, total: Int) {
        self.label = label
        self.total = total
    }

    mutating func update(done: Int, detail: String, force: Bool = false) {
        let now = CommandLineOutput.now()
        let interval = CommandLineOutput.isInteractive ? 0.1 : 5.0
        guard force || done >= total || now - lastDraw >= interval else { return }
        lastDraw = now
        let fraction = total == 0 ? 1 : Double(done) / Double(total)
        let width = 24
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let rate = Double(done) / max(1e-9, now - start)
        let line = "\(label) \(bar) \(done)/\(total)  \(Int(rate)) samples/s  \(detail)"
        if CommandLineOutput.isInteractive {
            writeStandardError("\r\u{1B}[2K\(line)")
            if done >= total { writeStandardError("\n") }
        } else {
            writeStandardError("\(line)\n")
        }
    }
}
