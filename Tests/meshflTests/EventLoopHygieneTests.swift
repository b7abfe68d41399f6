import Foundation
import Testing

/// `meshfl` and `meshfl-bench` run async code on the NIO event loops, so a
/// call that blocks its thread stalls every connection of that loop (a
/// blocking stdin read in `meshfl-bench net-sink` once hung py-libp2p's
/// sends). Blocking calls are allowed only where this list says why.
struct EventLoopHygieneTests {
    /// Calls that block the calling thread until something outside happens.
    static let blocking = ["readLine(", "waitUntilExit(", "usleep(", "Thread.sleep(", ".wait()", "readDataToEndOfFile(",
                           "DispatchSemaphore(", "DispatchQueue.main.sync"]

    /// File and call, with the reason it cannot stall a loop.
    static let allowed: [String: String] = [
        "Sources/meshfl/P2PCommand+Pubsub.swift readLine(": "stdin is read on a dedicated Thread",
        "Sources/meshfl-bench/NetBench.swift readLine(": "stdin is read on a dedicated Thread",
        "Sources/meshfl/DemoCommand.swift usleep(": "the demo process serves no peers; it waits for its children at exit",
        "Sources/meshfl-bench/LedgerBench.swift waitUntilExit(": "the bench parent serves no peers while its writers run",
        "Sources/MeshNode/Compute.swift usleep(": "only in the exit handler: the process is ending, it waits (bounded) for pool computations",
    ]

    @Test("no blocking call in Sources/ outside the reviewed places")
    func noUnreviewedBlockingCalls() throws {
        let root = TrainCommandTests.root
        let sources = root.appendingPathComponent("Sources")
        let files = try #require(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil))
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
        #expect(files.count > 100, "found only \(files.count) Swift files under \(sources.path)")
        var found: Set<String> = []
        var unreviewed: [String] = []
        for file in files {
            let relative = String(file.path.dropFirst(root.path.count + 1))
            for (number, line) in try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                for call in Self.blocking where code.contains(call) {
                    let key = "\(relative) \(call)"
                    if Self.allowed[key] != nil { found.insert(key) } else { unreviewed.append("\(relative):\(number + 1): \(call)") }
                }
            }
        }
        #expect(unreviewed.isEmpty, "blocking calls that may run on an event loop (move them to a Thread or NIOThreadPool, or review and list them): \(unreviewed)")
        // A stale entry would hide a new call in the same file.
        #expect(found == Set(Self.allowed.keys), "listed but no longer present: \(Set(Self.allowed.keys).subtracting(found).sorted())")
    }
}
