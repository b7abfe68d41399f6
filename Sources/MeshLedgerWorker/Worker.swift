// meshfl-ledger-worker: drives a LocalLedger file from a separate process, for
// the multi-process tests of MeshLedger (concurrent releases, SIGKILL mid-write).
//
//   meshfl-ledger-worker release PATH OWNER_NUM OWNER_SEED_HEX JOB RECIPIENT_NUM COUNT asc|desc
//       releases tasks task-0 … task-(COUNT-1), 1 tinybar each; prints
//       "released A replayed B refused C"
//   meshfl-ledger-worker churn PATH FROM_NUM FROM_SEED_HEX TO_NUM TOPIC_NUM MAX
//       alternates 1-tinybar transfers and topic messages until MAX or killed;
//       prints "ready" after the first write
//   meshfl-ledger-worker transfers PATH FROM_NUM FROM_SEED_HEX TO_NUM COUNT
//       COUNT 1-tinybar transfers, then exits
//   meshfl-ledger-worker bench DIR COUNT PROCESSES
//       LocalLedger throughput: one writer, PROCESSES writer processes on one
//       file, topic messages/s and verify messages/s; prints one JSON line
import Foundation
import MeshLedger

@main
struct Worker {
    static func main() async {
        let args = CommandLine.arguments
        do {
            switch args.dropFirst().first {
            case "release" where args.count == 9:
                try await release(args)
            case "churn" where args.count == 8:
                try await churn(args)
            case "transfers" where args.count == 7:
                try await transfers(args)
            case "bench" where args.count == 5:
                try await bench(args)
            default:
                FileHandle.standardError.write(Data("usage: see the header of Sources/MeshLedgerWorker/main.swift\n".utf8))
                exit(2)
            }
        } catch {
            FileHandle.standardError.write(Data("worker: \(error)\n".utf8))
            exit(1)
        }
    }

    static func release(_ a: [String]) async throws {
        let ledger = try LocalLedger(path: a[2])
        let owner = LedgerOperator(account: AccountID(num: Int64(a[3])!), key: try Ed25519PrivateKey(hex: a[4]))
        let job = a[5]
        let recipient = AccountID(num: Int64(a[6])!)
        let count = Int(a[7])!
        let order = a[8] == "desc" ? Array((0..<count).reversed()) : Array(0..<count)
        var released = 0, replayed = 0, refused = 0
        for i in order {
            do {
                let r = try await ledger.releaseEscrow(job: job, task: "task-\(i)", to: recipient, amount: 1, owner: owner)
                if r.isIdempotentReplay { replayed += 1 } else { released += 1 }
            } catch let e as LedgerError where e.code == .insufficientEscrow {
                refused += 1
            }
        }
        print("released \(released) replayed \(replayed) refused \(refused)")
    }

    static func churn(_ a: [String]) async throws {
        let ledger = try LocalLedger(path: a[2])
        let from = LedgerOperator(account: AccountID(num: Int64(a[3])!), key: try Ed25519PrivateKey(hex: a[4]))
        let to = AccountID(num: Int64(a[5])!)
        let topic = TopicID(num: Int64(a[6])!)
        let max = Int(a[7])!
        for i in 0..<max {
            if i % 2 == 0 {
                try await ledger.transfer(1, from: from, to: to)
            } else {
                try await ledger.submitMessage(Array("churn \(i)".utf8), to: topic, payer: from)
            }
            if i == 0 { FileHandle.standardOutput.write(Data("ready\n".utf8)) }
        }
        print("done")
    }

    static func transfers(_ a: [String]) async throws {
        let ledger = try LocalLedger(path: a[2])
        let from = LedgerOperator(account: AccountID(num: Int64(a[3])!), key: try Ed25519PrivateKey(hex: a[4]))
        let to = AccountID(num: Int64(a[5])!)
        for _ in 0..<Int(a[6])! { try await ledger.transfer(1, from: from, to: to) }
    }

    static func seconds(_ start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static func bench(_ a: [String]) async throws {
        let dir = a[2], count = Int(a[3])!, processes = Int(a[4])!
        let ledger = try LocalLedger(path: dir + "/bench-\(getpid()).ledger")
        let alice = try await ledger.createFundedAccount(balance: 1_000_000_000)
        let bob = try await ledger.createFundedAccount(balance: 0)

        var t = ContinuousClock.now
        for _ in 0..<count { try await ledger.transfer(1, from: alice, to: bob.account) }
        let single = Double(count) / seconds(t)

        // The same number of transfers split over several processes on the same file.
        let seed = alice.key.rawRepresentation.map { String(format: "%02x", $0) }.joined()
        t = ContinuousClock.now
        var children: [Process] = []
        for _ in 0..<processes {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            p.arguments = ["transfers", ledger.path, "\(alice.account.num)", seed, "\(bob.account.num)", "\(count / processes)"]
            try p.run()
            children.append(p)
        }
        for p in children { p.waitUntilExit() }
        guard children.allSatisfy({ $0.terminationStatus == 0 }) else { throw LedgerError(.storage, "a bench writer failed") }
        let multi = Double(count / processes * processes) / seconds(t)

        let topic = try await ledger.createTopic(memo: "bench", submitKey: nil, payer: alice)
        t = ContinuousClock.now
        for i in 0..<count { try await ledger.submitMessage(Array("{\"evt\":\"update\",\"n\":\(i)}".utf8), to: topic, payer: alice) }
        let messages = Double(count) / seconds(t)

        t = ContinuousClock.now
        let v = try await ledger.verify()
        let verifySeconds = seconds(t)
        guard v.isOK, try await ledger.balance(of: bob.account) == Int64(count + count / processes * processes) else {
            throw LedgerError(.verificationFailed, "bench ledger does not verify: \(v)")
        }
        t = ContinuousClock.now
        _ = try await ledger.verifyTopic(topic)
        let topicVerify = Double(count) / seconds(t)
        print(#"{"transactions_per_s_1_writer": \#(Int(single)), "transactions_per_s_\#(processes)_processes": \#(Int(multi)), "# +
              #""audit_messages_per_s": \#(Int(messages)), "verify_topic_messages_per_s": \#(Int(topicVerify)), "# +
              #""full_verify_transactions_per_s": \#(Int(Double(v.transactions) / verifySeconds))}"#)
    }
}
