import ArgumentParser
import Foundation
import MeshLedger
import MeshNode

/// `meshfl ledger`: the embedded development ledger — accounts, escrow, stakes and audit topics —
/// and the Hedera side: a local HAPI + mirror endpoint, accounts and the registry topic.
///
/// ```
/// meshfl ledger fund --new --amount 100000000        # a funded dev account and its key
/// meshfl ledger topic create --memo "job-1 audit"
/// meshfl ledger topic submit 0.0.1002 '{"evt":"trainer_joined"}'
/// meshfl ledger verify
/// meshfl ledger serve-hapi --ledger local:dev.ledger --listen 127.0.0.1:0 --write-config hedera.json
/// meshfl ledger balance --ledger hedera:hedera.json 0.0.1001
/// ```
struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Inspect and drive the local ledger (accounts, escrow, stakes, audit topics).",
        discussion: """
            The ledger is one SQLite file (default: $MESHFL_DATA_DIR/ledger.sqlite, else
            ~/.local/share/meshfl/ledger.sqlite). Calls that change it sign a HAPI transaction
            as --account with --key; without them the dev treasury 0.0.2 signs.
            --ledger also takes local:PATH, and hedera:CONFIG for balance, stake show,
            topic messages / verify and the hedera subcommands (reads go through the
            mirror node, writes through HAPI).
            """,
        subcommands: [
            Accounts.self, Balance.self, Fund.self, Escrow.self, Stake.self, Topic.self, Verify.self, ServeHAPI.self, Hedera.self,
        ]
    )

    /// Where the ledger file is.
    struct Location: ParsableArguments {
        @Option(name: .customLong("ledger"), help: "The ledger file (created if missing), as PATH or local:PATH; hedera:CONFIG where noted.")
        var path: String?

        var resolvedPath: String {
            if let path { return path.hasPrefix("local:") ? String(path.dropFirst("local:".count)) : path }
            let env = ProcessInfo.processInfo.environment
            let dir = env["MESHFL_DATA_DIR"]
                ?? env["XDG_DATA_HOME"].map { $0 + "/meshfl" }
                ?? (NSHomeDirectory() + "/.local/share/meshfl")
            return dir + "/ledger.sqlite"
        }

        func open() throws -> LocalLedger {
            if let path, path.hasPrefix("hedera:") {
                throw ValidationError("--ledger \(path): this subcommand works on a local ledger file; give PATH or local:PATH")
            }
            let path = resolvedPath
            let dir = (path as NSString).deletingLastPathComponent
            if !dir.isEmpty {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            }
            return try LocalLedger(path: path)
        }

        /// Runs `body` on the ledger — a local file, or Hedera for `hedera:CONFIG` — and closes it.
        func withAny<R>(_ body: (any NodeLedger) async throws -> R) async throws -> R {
            let ledger: any NodeLedger
            if let path, path.hasPrefix("hedera:") {
                do { ledger = try await ledgerLocation(path).open() } catch let error as NodeError { throw UsageError(error.message) }
            } else {
                ledger = try open()
            }
            do {
                let result = try await body(ledger)
                await ledger.close()
                return result
            } catch {
                await ledger.close()
                throw error
            }
        }
    }

    /// Who signs: an account and its Ed25519 key, or the dev treasury.
    struct Signer: ParsableArguments {
        @Option(help: "The paying/signing account, shard.realm.num (default: the treasury 0.0.2).")
        var account: String?

        @Option(help: "The account's Ed25519 private key, 64 hex digits (or $MESHFL_LEDGER_KEY).")
        var key: String?

        func validate() throws {
            if account != nil, key == nil, ProcessInfo.processInfo.environment["MESHFL_LEDGER_KEY"] == nil {
                throw ValidationError("--account needs --key (or MESHFL_LEDGER_KEY) to sign with")
            }
        }

        func resolve(_ ledger: LocalLedger) throws -> LedgerOperator {
            guard let account else { return ledger.treasury }
            let hex = key ?? ProcessInfo.processInfo.environment["MESHFL_LEDGER_KEY"] ?? ""
            return LedgerOperator(account: try AccountID(parsing: account), key: try Ed25519PrivateKey(hex: hex))
        }
    }

    struct Accounts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts and balances (tinybars).")
        @OptionGroup var location: Location

        func run() async throws {
            let ledger = try location.open()
            for (account, balance) in try await ledger.accounts() {
                let stake = try await ledger.stake(of: account)
                print("\(account)\t\(balance)" + (stake.staked > 0 ? "\tstaked \(stake.staked)" : ""))
            }
        }
    }

    struct Balance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one account's balance in tinybars (hedera:CONFIG reads the mirror node).")
        @OptionGroup var location: Location
        @Argument(help: "The account, shard.realm.num.") var account: String

        func run() async throws {
            let id = try AccountID(parsing: account)
            print(try await location.withAny { try await $0.balance(of: id) })
        }
    }

    struct Fund: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The dev faucet: pay tinybars from the treasury, or create a funded account with --new.")
        @OptionGroup var location: Location
        @Argument(help: "The account to fund (omit with --new).") var account: String?
        @Option(help: "Tinybars to pay (1 hbar = 100000000).") var amount: Int64 = 100_000_000
        @Flag(help: "Create a new account with a fresh key; prints its id and private key.") var new = false

        func validate() throws {
            guard amount >= 0 else { throw ValidationError("--amount must not be negative") }
            guard new != (account != nil) else { throw ValidationError("give an ACCOUNT or --new, not both or neither") }
        }

        func run() async throws {
            let ledger = try location.open()
            if new {
                let op = try await ledger.createFundedAccount(balance: amount)
                print("account \(op.account)")
                print("key \(op.key.rawRepresentation.map { String(format: "%02x", $0) }.joined())")
                print("balance \(amount)")
            } else {
                let id = try AccountID(parsing: account!)
                try await ledger.fund(id, amount: amount)
                print("\(id)\t\(try await ledger.balance(of: id))")
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay the log, check signatures and running hashes; print OK or the first bad entry.")
        @OptionGroup var location: Location

        func run() async throws {
            let ledger = try location.open()
            let result = try await ledger.verify()
            print(result)
            if !result.isOK { throw ExitCode(1) }
        }
    }
}
