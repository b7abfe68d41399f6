import Foundation
import Testing
@testable import MeshStorage

/// The block exchange between separate `meshfl store seed|fetch` processes on
/// 127.0.0.1: two processes, eight processes with one killed mid-transfer, a
/// seeder killed mid-transfer, and a fetch killed and resumed. Every process is
/// stopped by its pid.
struct BlockExchangeProcessTests {
    /// A `meshfl` process running in the background, its output in a log file.
    final class Node: @unchecked Sendable {
        let process = Process()
        let data: URL
        let log: URL

        init(_ arguments: [String], data: URL) throws {
            self.data = data
            try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
            log = data.appending(path: "log.txt")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            process.executableURL = URL(filePath: StoreCommandTests.binary)
            process.arguments = arguments + ["--data-dir", data.path]
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }

        func kill(_ signal: Int32 = SIGKILL) {
            if process.isRunning { Foundation.kill(process.processIdentifier, signal) }
        }

        var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        /// Blocks in this node's store (the manifest counts as one).
        var storedBlocks: Int {
            let root = data.appending(path: "store/blocks").path
            let shards = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
            return shards.reduce(0) { $0 + ((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + $1).count) ?? 0) }
        }
    }

    let dir: URL
    init() throws { dir = try TestSupport.temporaryDirectory("meshfl-swarm") }

    /// Polls `condition` every 100 ms for at most `seconds`.
    func waitUntil(_ what: String, seconds: Double, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while !condition() {
            guard ContinuousClock.now < deadline else { throw StorageError(code: .notFound, message: "timed out after \(seconds) s waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Stores `bytes` in a fresh data dir, starts a seeder on it, returns (seeder, root, its address).
    func startSeeder(_ name: String, bytes: Data, blockSize: Int, uploadLimit: Double?) async throws -> (Node, String, String) {
        let data = dir.appending(path: name)
        // The same file name everywhere: it is in the manifest's metadata, so it is part of the root CID.
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let input = data.appending(path: "input.bin")
        try bytes.write(to: input)
        let (status, out, err) = try TestSupport.run(StoreCommandTests.binary, ["store", "put", input.path, "--data-dir", data.path, "--block-size", String(blockSize)])
        try #require(status == 0, "store put failed: \(err)")
        let root = out.trimmingCharacters(in: .whitespacesAndNewlines)
        let addressFile = dir.appending(path: "\(name).addr")
        var arguments = ["store", "seed", root, "--address-file", addressFile.path]
        if let uploadLimit { arguments += ["--upload-limit", String(uploadLimit)] }
        let node = try Node(arguments, data: data)
        try await waitUntil("\(name) to listen", seconds: 20) { FileManager.default.fileExists(atPath: addressFile.path) }
        let address = try String(contentsOf: addressFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return (node, root, address)
    }

    func fetchArguments(_ root: String, from: [String], name: String, uploadLimit: Double? = nil, linger: Int = 0) -> [String] {
        var arguments = ["store", "fetch", root, "--out", dir.appending(path: "\(name).bin").path,
                         "--report", dir.appending(path: "\(name).json").path, "--linger", String(linger), "--timeout", "120"]
        for address in from { arguments += ["--from", address] }
        if let uploadLimit { arguments += ["--upload-limit", String(uploadLimit)] }
        return arguments
    }

    func report(_ name: String) throws -> BlockFetchReport {
        try JSONDecoder().decode(BlockFetchReport.self, from: Data(contentsOf: dir.appending(path: "\(name).json")))
    }

    func output(_ name: String) throws -> Data { try Data(contentsOf: dir.appending(path: "\(name).bin")) }

    func requireBinary() throws {
        try #require(FileManager.default.isExecutableFile(atPath: StoreCommandTests.binary), "no meshfl binary at \(StoreCommandTests.binary); build with --build-tests")
    }

    @Test(.timeLimit(.minutes(2))) func twoProcesses() async throws {
        try requireBinary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = TestSupport.bytes(3_000_000, seed: 21)
        let (seeder, root, address) = try await startSeeder("seeder", bytes: bytes, blockSize: 65_536, uploadLimit: nil)
        defer { seeder.kill() }
        let (status, _, err) = try TestSupport.run(StoreCommandTests.binary, fetchArguments(root, from: [address], name: "f") + ["--data-dir", dir.appending(path: "f").path], timeout: 90)
        #expect(status == 0, "\(err)")
        #expect(try output("f") == bytes)
        let r = try report("f")
        #expect(r.blockCount == 46 && r.fetchedBlocks == 46 && r.corruptBlocks == 0 && r.totalBytes == 3_000_000)
    }

    @Test(.timeLimit(.minutes(3))) func eightProcessesSwarmWithOneKilledMidTransfer() async throws {
        try requireBinary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = TestSupport.bytes(6 << 20, seed: 22)
        // Every uplink at 4 MiB/s: the seeder alone would need 7 × 1.5 s; peers must trade.
        let (seeder, root, address) = try await startSeeder("seeder", bytes: bytes, blockSize: 131_072, uploadLimit: 4)
        var fetchers: [Node] = []
        defer { seeder.kill(); for f in fetchers { f.kill() } }
        for n in 1...7 {
            fetchers.append(try Node(fetchArguments(root, from: [address], name: "f\(n)", uploadLimit: 4, linger: 60),
                                     data: dir.appending(path: "f\(n)")))
        }
        let victim = fetchers[6]
        try await waitUntil("f7 to hold 8 blocks", seconds: 60) { victim.storedBlocks >= 9 || !victim.process.isRunning }
        victim.kill()
        let reports = (1...6).map { dir.appending(path: "f\($0).json").path }
        try await waitUntil("six fetchers to finish", seconds: 120) {
            reports.allSatisfy { FileManager.default.fileExists(atPath: $0) } || fetchers.prefix(6).contains { !$0.process.isRunning }
        }
        var fromPeers = 0
        for n in 1...6 {
            let r = try report("f\(n)")
            #expect(r.blockCount == 48 && r.alreadyHad + r.fetchedBlocks >= 48 && r.corruptBlocks == 0, "f\(n): \(r)")
            #expect(try output("f\(n)") == bytes, "f\(n) wrote a different file")
            let seederID = String(address.split(separator: "/").last!)
            fromPeers += r.blocksByPeer.filter { $0.key != seederID }.values.reduce(0, +)
        }
        #expect(fromPeers > 0, "no fetcher got a block from another fetcher: no swarming happened")
        #expect(victim.storedBlocks < 49, "f7 was killed before finishing")
    }

    @Test(.timeLimit(.minutes(2))) func aSeederKilledMidTransferIsReplacedByAnother() async throws {
        try requireBinary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = TestSupport.bytes(4 << 20, seed: 23)
        let (a, root, addressA) = try await startSeeder("a", bytes: bytes, blockSize: 65_536, uploadLimit: 1)
        let (b, _, addressB) = try await startSeeder("b", bytes: bytes, blockSize: 65_536, uploadLimit: 1)
        defer { a.kill(); b.kill() }
        let fetcher = try Node(fetchArguments(root, from: [addressA, addressB], name: "f"), data: dir.appending(path: "f"))
        defer { fetcher.kill() }
        try await waitUntil("the fetcher to hold 10 blocks", seconds: 60) { fetcher.storedBlocks >= 11 || !fetcher.process.isRunning }
        a.kill()
        try await waitUntil("the fetcher to finish", seconds: 90) { !fetcher.process.isRunning }
        #expect(fetcher.process.terminationStatus == 0, "\(fetcher.logText.suffix(2000))")
        #expect(try output("f") == bytes)
        let r = try report("f")
        let idB = String(addressB.split(separator: "/").last!)
        #expect((r.blocksByPeer[idB] ?? 0) > 0)
    }

    @Test(.timeLimit(.minutes(2))) func aKilledFetchResumesWithoutRefetching() async throws {
        try requireBinary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = TestSupport.bytes(4 << 20, seed: 24)
        let (seeder, root, address) = try await startSeeder("seeder", bytes: bytes, blockSize: 65_536, uploadLimit: 1)
        defer { seeder.kill() }
        let data = dir.appending(path: "f")
        let first = try Node(fetchArguments(root, from: [address], name: "f"), data: data)
        try await waitUntil("the fetcher to hold 16 blocks", seconds: 60) { first.storedBlocks >= 17 || !first.process.isRunning }
        first.kill()
        first.process.waitUntilExit()
        let held = first.storedBlocks - 1  // minus the manifest
        #expect(held >= 16 && held < 64, "killed with \(held) of 64 blocks")
        let (status, _, err) = try TestSupport.run(StoreCommandTests.binary, fetchArguments(root, from: [address], name: "f") + ["--data-dir", data.path], timeout: 90)
        #expect(status == 0, "\(err)")
        #expect(try output("f") == bytes)
        let r = try report("f")
        #expect(r.alreadyHad >= held)
        #expect(r.alreadyHad + r.fetchedBlocks == 64, "refetched blocks it had: \(r)")
    }
}
