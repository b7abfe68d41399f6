import Foundation
import Testing
@testable import MeshLedger

/// Several OS processes on one ledger file, through the `MeshLedgerWorker` executable.
struct MultiProcessTests {
    /// The worker binary next to the test bundle; the test fails (not skips) without it.
    static func workerURL() throws -> URL {
        if let env = ProcessInfo.processInfo.environment["MESHLEDGER_WORKER"] { return URL(fileURLWithPath: env) }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("MeshLedgerWorker")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir.deleteLastPathComponent()
        }
        throw LedgerError(.notFound, "MeshLedgerWorker is not built next to \(CommandLine.arguments[0]); build it with the tests or set MESHLEDGER_WORKER.")
    }

    /// A started worker whose output is collected in a file.
    struct Worker {
        let process: Process
        let output: URL

        init(_ arguments: [String], in directory: URL) throws {
            process = Process()
            process.executableURL = try MultiProcessTests.workerURL()
            process.arguments = arguments
            output = directory.appendingPathComponent("worker-\(UUID().uuidString).out")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: output)
            process.standardError = process.standardOutput
            try process.run()
        }

        /// Waits at most `seconds` for the worker to exit; kills it and throws after that.
        func wait(seconds: Double) async throws -> (status: Int32, output: String) {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning {
                if Date() > deadline {
                    kill(process.processIdentifier, SIGKILL)
                    throw LedgerError(.storage, "worker \(process.arguments ?? []) did not finish in \(seconds) s")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            return (process.terminationStatus, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
        }
    }

    @Test func concurrentReleasesFromTwoProcessesNeverDoubleSpend() async throws {
        let t = try TestLedger(wallClock: true)
        defer { t.remove() }
        let owner = try await t.ledger.createFundedAccount(balance: 1_000)
        let trainer = try await t.ledger.createFundedAccount(balance: 0)
        try await t.ledger.lockEscrow(job: "j", amount: 100, owner: owner)
        let seed = Fixture.hex(owner.key.rawRepresentation)
        let common = [t.ledger.path, "\(owner.account.num)", seed, "j", "\(trainer.account.num)", "150"]
        let a = try Worker(["release"] + common + ["asc"], in: t.directory)
        let b = try Worker(["release"] + common + ["desc"], in: t.directory)
        let ra = try await a.wait(seconds: 120)
        let rb = try await b.wait(seconds: 120)
        #expect(ra.status == 0, "\(ra.output)")
        #expect(rb.status == 0, "\(rb.output)")
        func counts(_ s: String) -> [Int] { s.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) } }
        let ca = counts(ra.output), cb = counts(rb.output)
        try #require(ca.count == 3 && cb.count == 3, "\(ra.output) / \(rb.output)")
        #expect(ca.reduce(0, +) == 150 && cb.reduce(0, +) == 150)
        #expect(ca[0] + cb[0] == 100, "each paid task is paid by exactly one process: \(ca) \(cb)")
        #expect(try await t.ledger.balance(of: trainer.account) == 100)
        #expect(try await t.ledger.balance(of: owner.account) == 900)
        #expect(try await t.ledger.escrow(job: "j")?.released == 100)
        let v = try await t.ledger.verify()
        #expect(v.isOK, "\(v)")
    }

    @Test func sigkillMidWriteLeavesAConsistentFile() async throws {
        let t = try TestLedger(wallClock: true)
        defer { t.remove() }
        let alice = try await t.ledger.createFundedAccount(balance: 1_000_000)
        let bob = try await t.ledger.createFundedAccount(balance: 0)
        let topic = try await t.ledger.createTopic(memo: "churn", submitKey: nil, payer: alice)
        let seed = Fixture.hex(alice.key.rawRepresentation)
        for round in 1...3 {
            let base = try await t.ledger.logCount()
            let w = try Worker(["churn", t.ledger.path, "\(alice.account.num)", seed, "\(bob.account.num)", "\(topic.num)", "100000"],
                               in: t.directory)
            // Let it write a varying number of transactions, then kill it without warning.
            let target = base + 15 * round
            let deadline = Date().addingTimeInterval(60)
            while try await t.ledger.logCount() < target, Date() < deadline, w.process.isRunning {
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(w.process.isRunning, "the worker stopped early: \((try? String(contentsOf: w.output, encoding: .utf8)) ?? "")")
            kill(w.process.processIdentifier, SIGKILL)
            let r = try await w.wait(seconds: 30)
            #expect(r.status == SIGKILL)
            #expect(try await t.ledger.logCount() >= target)

            // A fresh open of the file is consistent and replays to the same state.
            let reopened = try LocalLedger(path: t.ledger.path)
            let v = try await reopened.verify()
            #expect(v.isOK, "round \(round): \(v)")
            #expect(try await reopened.verifyTopic(topic).isOK)
            let total = try await reopened.accounts().reduce(0) { $0 + $1.balance }
            #expect(total == LedgerSchema.genesisSupply)
            try await reopened.transfer(1, from: alice, to: bob.account)
        }
    }
}
