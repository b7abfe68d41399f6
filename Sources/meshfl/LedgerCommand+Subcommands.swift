import ArgumentParser
import Foundation
import MeshLedger

extension LedgerCommand {
    /// `meshfl ledger escrow …`: job escrow.
    struct Escrow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show, lock, release or refund job escrow.",
            subcommands: [Show.self, Lock.self, Release.self, Refund.self], defaultSubcommand: Show.self)

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List escrows (or one job's).")
            @OptionGroup var location: Location
            @Argument(help: "A job id.") var job: String?

            func run() async throws {
                let ledger = try location.open()
                let all = try await ledger.escrows().filter { job == nil || $0.job == job }
                if let job, all.isEmpty { throw LedgerError(.notFound, "no escrow for job '\(job)'.") }
                for e in all {
                    print("\(e.job)\towner \(e.owner)\tlocked \(e.locked)\treleased \(e.released)\trefunded \(e.refunded)\tavailable \(e.available)\t\(e.isOpen ? "open" : "closed")")
                }
            }
        }

        struct Lock: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Lock tinybars of the signer for a job.")
            @OptionGroup var location: Location
            @OptionGroup var signer: Signer
            @Argument var job: String
            @Argument var amount: Int64

            func run() async throws {
                let ledger = try location.open()
                let r = try await ledger.lockEscrow(job: job, amount: amount, owner: try signer.resolve(ledger))
                print("locked \(amount) for \(job) (\(r.transactionID) at \(r.consensusTimestamp))")
            }
        }

        struct Release: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Pay a trainer for one task (idempotent per task).")
            @OptionGroup var location: Location
            @OptionGroup var signer: Signer
            @Argument var job: String
            @Argument var task: String
            @Argument(help: "The trainer's account.") var to: String
            @Argument var amount: Int64

            func run() async throws {
                let ledger = try location.open()
                let r = try await ledger.releaseEscrow(job: job, task: task, to: try AccountID(parsing: to), amount: amount,
                                                       owner: try signer.resolve(ledger))
                print(r.isIdempotentReplay ? "already released (\(r.transactionID))" : "released \(amount) to \(to) (\(r.transactionID))")
            }
        }

        struct Refund: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Return the rest of a job's escrow to its owner.")
            @OptionGroup var location: Location
            @OptionGroup var signer: Signer
            @Argument var job: String

            func run() async throws {
                let ledger = try location.open()
                let r = try await ledger.refundEscrow(job: job, owner: try signer.resolve(ledger))
                print("refunded \(r.amount ?? 0)")
            }
        }
    }

    /// `meshfl ledger stake …`: trainer stakes.
    struct Stake: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show, add, withdraw or slash trainer stakes.",
            subcommands: [Show.self, Add.self, Withdraw.self, Slash.self], defaultSubcommand: Show.self)

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print an account's stake.")
            @OptionGroup var location: Location
            @Argument var account: String

            func run() async throws {
                let id = try AccountID(parsing: account)
                let s = try await location.withAny { try await $0.stake(of: id) }
                print("\(s.account)\tstaked \(s.staked)\tunlocks \(s.unlocksAt)\tslashed \(s.slashedTotal)")
            }
        }

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Stake tinybars of the signer (restarts the cooldown).")
            @OptionGroup var location: Location
            @OptionGroup var signer: Signer
            @Argument var amount: Int64

            func run() async throws {
                let ledger = try location.open()
                try await ledger.stake(amount, trainer: try signer.resolve(ledger))
                print("staked \(amount); unstake after \(ledger.stakeCooldownSeconds) s")
            }
        }

        struct Withdraw: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "unstake", abstract: "Unstake tinybars after the cooldown.")
            @OptionGroup var location: Location
            @OptionGroup var signer: Signer
            @Argument var amount: Int64

            func run() async throws {
                let ledger = try location.open()
                try await ledger.unstake(amount, trainer: try signer.resolve(ledger))
                print("unstaked \(amount)")
            }
        }

        struct Slash: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Slash a stake, citing evidence; the treasury signs, slashed tinybars go to it.")
            @OptionGroup var location: Location
            @Argument var account: String
            @Argument var amount: Int64
            @Option(help: "The CID of the evidence (CIDv0 Qm… or CIDv1 b…).") var evidence: String

            func run() async throws {
                let ledger = try location.open()
                try await ledger.slash(try AccountID(parsing: account), amount: amount, evidenceCID: evidence, authority: ledger.treasury)
                print("slashed \(amount) from \(account)")
            }
        }
    }

    /// `meshfl ledger topic …`: HCS-style audit topics.
    struct Topic: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create topics, submit and read messages.",
            subcommands: [Create.self, Submit.self, Messages.self, Verify.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create a topic; prints its id.")
            @OptionGroup var location: Location
            @OptionGroup var signer: Signer
            @Option(help: "The topic memo.") var memo = ""

            func run() async throws {
                let ledger = try location.open()
                print(try await ledger.createTopic(memo: memo, submitKey: nil, payer: try signer.resolve(ledger)))
            }
        }

        struct Submit: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Submit a message (chunked above 1,024 bytes).")
            @OptionGroup var location: Location
            @OptionGroup var signer: Signer
            @Argument var topic: String
            @Argument var message: String

            func run() async throws {
                let ledger = try location.open()
                let receipts = try await ledger.submitMessage(Array(message.utf8), to: try TopicID(parsing: topic),
                                                              payer: try signer.resolve(ledger))
                for r in receipts {
                    let hash = (r.topicRunningHash ?? []).map { String(format: "%02x", $0) }.joined()
                    print("sequence \(r.topicSequenceNumber ?? 0)\tconsensus \(r.consensusTimestamp)\trunning hash \(hash)")
                }
            }
        }

        struct Messages: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print a topic's messages from a sequence number.",
                discussion: "One line per message: sequence, consensus time, payer and the text. A message of several lines (an audit message carries one event per line) prints each line with the message's columns.")
            @OptionGroup var location: Location
            @Argument var topic: String
            @Option(help: "The first sequence number.") var from: Int64 = 1
            @Option(help: "At most this many messages.") var limit = 100

            func run() async throws {
                let id = try TopicID(parsing: topic)
                let (from, limit) = (self.from, self.limit)
                for m in try await location.withAny({ try await $0.messages(topic: id, from: from, limit: limit) }) {
                    let text = String(validating: m.contents, as: UTF8.self) ?? m.contents.map { String(format: "%02x", $0) }.joined()
                    let chunk = m.chunkInfo.map { "\tchunk \($0.number)/\($0.total)" } ?? ""
                    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                        print("\(m.sequenceNumber)\t\(m.consensusTimestamp)\t\(m.payer)\(chunk)\t\(line)")
                    }
                }
            }
        }

        struct Verify: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Recompute a topic's HCS running-hash chain from message 1; print OK or the first bad message (exit 1).")
            @OptionGroup var location: Location
            @Argument var topic: String

            func run() async throws {
                let id = try TopicID(parsing: topic)
                switch try await location.withAny({ try await $0.verifyTopic(id) }) {
                case .ok(let count, let hash):
                    print("OK \(count) messages, running hash \(hash.map { String(format: "%02x", $0) }.joined())")
                case .failed(let sequence, let reason):
                    print("FAILED at message \(sequence): \(reason)")
                    throw ExitCode(1)
                }
            }
        }
    }
}
