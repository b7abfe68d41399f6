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
//
// The throughput benchmark lives in meshfl-bench (`meshfl-bench ledger`).
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
}
