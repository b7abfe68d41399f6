import ArgumentParser
import Foundation
import MeshLedger

/// LocalLedger throughput on one SQLite file: signed transfers per second with
/// one writer and with several writer processes, audit (topic) messages per
/// second, and `verify` speed. bench/ledger.py runs it next to plain SQLite
/// inserts (Python's sqlite3) as the ceiling.
struct LedgerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "LocalLedger transactions/s (1 writer and N processes), audit messages/s, verify messages/s.")

    @Option(help: "Transactions per measurement (transfers, and again topic messages).") var count = 2_000
    @Option(help: "Writer processes sharing the file in the multi-process measurement.") var processes = 4
    @Option(help: "Directory for the ledger file (removed afterwards).") var dir: String

    func validate() throws {
        guard count >= 1, (1...64).contains(processes), count >= processes else {
            throw ValidationError("--count must be at least --processes, and --processes 1…64.")
        }
    }

    func run() async throws {
        let path = dir + "/ledger-bench-\(getpid()).ledger"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let ledger = try LocalLedger(path: path)
        let alice = try await ledger.createFundedAccount(balance: 1_000_000_000)
        let bob = try await ledger.createFundedAccount(balance: 0)

        BenchSupport.log("ledger: \(count) transfers, one writer")
        var start = ContinuousClock.now
        for _ in 0..<count { try await ledger.transfer(1, from: alice, to: bob.account) }
        let single = Double(count) / Self.seconds(since: start)

        BenchSupport.log("ledger: \(count) transfers over \(processes) processes")
        let perProcess = count / processes
        let seed = alice.key.rawRepresentation.map { String(format: "%02x", $0) }.joined()
        start = ContinuousClock.now
        let children = try (0..<processes).map { _ in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            p.arguments = ["ledger-writer", path, "\(alice.account.num)", seed, "\(bob.account.num)", "\(perProcess)"]
            try p.run()
            return p
        }
        for p in children { p.waitUntilExit() }
        guard children.allSatisfy({ $0.terminationStatus == 0 }) else {
            throw LedgerError(.storage, "a ledger-writer process failed; see its error above.")
        }
        let multi = Double(perProcess * processes) / Self.seconds(since: start)

        BenchSupport.log("ledger: \(count) audit messages")
        let topic = try await ledger.createTopic(memo: "bench audit", submitKey: nil, payer: alice)
        start = ContinuousClock.now
        for i in 0..<count {
            try await ledger.submitMessage(Array(#"{"evt":"update_submitted","task":\#(i)}"#.utf8), to: topic, payer: alice)
        }
        let messages = Double(count) / Self.seconds(since: start)

        BenchSupport.log("ledger: verify")
        start = ContinuousClock.now
        let topicCheck = try await ledger.verifyTopic(topic)
        let topicVerify = Double(count) / Self.seconds(since: start)
        start = ContinuousClock.now
        let full = try await ledger.verify()
        let fullSeconds = Self.seconds(since: start)
        let expected = Int64(count + perProcess * processes)
        guard topicCheck.isOK, full.isOK, try await ledger.balance(of: bob.account) == expected else {
            throw LedgerError(.verificationFailed, "the bench ledger does not verify or lost a transfer: \(full)")
        }
        try BenchSupport.printJSON([
            "count": count, "processes": processes,
            "transactions_per_s_1_writer": single.rounded(),
            "transactions_per_s_processes": multi.rounded(),
            "audit_messages_per_s": messages.rounded(),
            "verify_topic_messages_per_s": topicVerify.rounded(),
            "verify_full_messages_per_s": (Double(full.messages) / fullSeconds).rounded(),
            "verify_full_transactions_per_s": (Double(full.transactions) / fullSeconds).rounded(),
            "log_transactions": full.transactions,
        ])
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// One writer process of `ledger`: COUNT 1-tinybar transfers on an existing file.
struct LedgerWriterBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger-writer", abstract: "A writer process of the ledger benchmark.", shouldDisplay: false)

    @Argument var path: String
    @Argument var fromAccount: Int64
    @Argument var fromSeedHex: String
    @Argument var toAccount: Int64
    @Argument var count: Int

    func run() async throws {
        let ledger = try LocalLedger(path: path)
        let from = LedgerOperator(account: AccountID(num: fromAccount), key: try Ed25519PrivateKey(hex: fromSeedHex))
        for _ in 0..<count { try await ledger.transfer(1, from: from, to: AccountID(num: toAccount)) }
    }
}
