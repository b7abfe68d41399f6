import Foundation
import Testing
@testable import MeshStorage

/// Several real processes share one store directory: each imports files,
/// drops garbage and runs garbage collection while the others write. The
/// workers are this test binary re-executed with a filter that selects
/// ``workerEntryPoint()`` and an environment variable that tells it what to do.
struct BlockStoreProcessTests {
    static let directoryVariable = "MESHFL_STORAGE_WORKER_DIR"
    static let indexVariable = "MESHFL_STORAGE_WORKER_INDEX"
    static let files = 6

    static func payload(worker: Int, file: Int) -> Data {
        // Workers 0/2 and 1/3 import the same contents, so writes race on equal blocks.
        TestSupport.bytes(30_000 + file * 977, seed: UInt64((worker % 2) * 1000 + file))
    }

    /// The worker process's job; a no-op (and trivially passing) unless started
    /// by ``severalProcessesShareOneStore()`` with the worker variables set.
    @Test func workerEntryPoint() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let directory = environment[Self.directoryVariable], let index = environment[Self.indexVariable].flatMap(Int.init) else { return }
        let store = try BlockStore(directory: URL(filePath: directory))
        var lines: [String] = []
        for file in 0..<Self.files {
            let input = URL(filePath: directory).appending(path: "in-\(index)-\(file).bin")
            try Self.payload(worker: index, file: file).write(to: input)
            let stored = try store.putFile(at: input, blockSize: 4096, holder: "p\(index)")
            try store.put(TestSupport.bytes(333, seed: UInt64(index * 100 + file + 50_000)))  // garbage
            if file % 2 == 1 { try store.collectGarbage() }
            lines.append("\(file) \(stored.root)")
        }
        try lines.joined(separator: "\n").write(to: URL(filePath: directory).appending(path: "roots-\(index).txt"), atomically: true, encoding: .utf8)
    }

    @Test(.timeLimit(.minutes(2))) func severalProcessesShareOneStore() async throws {
        let directory = try TestSupport.temporaryDirectory("meshfl-multiproc")
        defer { try? FileManager.default.removeItem(at: directory) }
        let binary = ProcessInfo.processInfo.arguments[0]
        let workers = 4
        var processes: [Process] = []
        for index in 0..<workers {
            let process = Process()
            process.executableURL = URL(filePath: binary)
            process.arguments = ["--testing-library", "swift-testing", "--filter", "BlockStoreProcessTests/workerEntryPoint"]
            var environment = ProcessInfo.processInfo.environment
            environment[Self.directoryVariable] = directory.path
            environment[Self.indexVariable] = String(index)
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            processes.append(process)
        }
        // Collect garbage from this process too while the workers write.
        let store = try BlockStore(directory: directory)
        let deadline = ContinuousClock.now + .seconds(90)
        while processes.contains(where: \.isRunning), ContinuousClock.now < deadline {
            try store.collectGarbage()
            try await Task.sleep(for: .milliseconds(20))
        }
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in processes {
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "worker \(process.processIdentifier) failed")
        }
        try store.collectGarbage()
        for index in 0..<workers {
            let text = try String(contentsOf: directory.appending(path: "roots-\(index).txt"), encoding: .utf8)
            let roots = text.split(separator: "\n").map { $0.split(separator: " ") }
            #expect(roots.count == Self.files)
            for entry in roots {
                let file = Int(entry[0])!
                let root = try CID(parsing: String(entry[1]))
                #expect(store.isPinned(root))
                let out = directory.appending(path: "out-\(index)-\(file).bin")
                try store.exportFile(root, to: out)
                #expect(try Data(contentsOf: out) == Self.payload(worker: index, file: file))
            }
        }
        // Only pinned data survives: no garbage blocks and no temp files.
        let live = Set(try store.pinned().flatMap { try store.manifest(for: $0).blocks.map(\.cid) + [$0] })
        #expect(Set(store.allBlocks()) == live)
        #expect(FileOps.list(directory.path + "/tmp").isEmpty)
    }
}
