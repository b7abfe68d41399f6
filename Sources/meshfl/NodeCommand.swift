import ArgumentParser
import Foundation
import Libp2p
import Logging
import MeshNode

/// Where a node keeps its state: --data-dir, else $MESHFL_DATA_DIR, else ~/.local/share/meshfl.
struct DataDirOption: ParsableArguments {
    @Option(help: "The node's data directory: identity key, sealing key, ledger account, blocks, node.sqlite (default: $MESHFL_DATA_DIR, else ~/.local/share/meshfl).")
    var dataDir: String?

    var path: String {
        dataDir ?? ProcessInfo.processInfo.environment["MESHFL_DATA_DIR"] ?? (NSHomeDirectory() + "/.local/share/meshfl")
    }
}

/// Parses `--ledger local:PATH` (hedera:CONFIG is not wired into nodes yet).
func localLedgerPath(_ text: String, dataDir: String) throws -> String {
    if text.hasPrefix("local:") {
        let path = String(text.dropFirst("local:".count))
        guard !path.isEmpty else { throw ValidationError("--ledger local: needs a path, e.g. local:/tmp/dev.ledger") }
        return path
    }
    if text.hasPrefix("hedera:") {
        throw ValidationError("--ledger \(text): nodes run on a local ledger for now; use --ledger local:PATH (the Hedera backend is reachable through `meshfl ledger`)")
    }
    throw ValidationError("--ledger \(text): expected local:PATH")
}

/// `meshfl node`: runs a requester or a trainer.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a node of the network: a requester (serves jobs, verifies, pays) or a trainer (claims and trains tasks).",
        discussion: """
            The first line printed is the node's full address (/ip4/…/tcp/…/p2p/…) for
            other nodes' --bootstrap. Logs go to standard error.

              meshfl node --role requester --data-dir req --ledger local:dev.ledger
              meshfl submit --data-dir req --ledger local:dev.ledger --model examples/mlp.json --rounds 5 --shards 8 --reward 100
              meshfl node --role trainer --data-dir t1 --ledger local:dev.ledger --bootstrap /ip4/127.0.0.1/tcp/…/p2p/…
            """
    )

    @Option(help: "requester or trainer.")
    var role: String

    @OptionGroup var dataDir: DataDirOption

    @Option(help: "Multiaddr to listen on (repeatable).")
    var listen: [String] = ["/ip4/127.0.0.1/tcp/0"]

    @Option(help: "A peer to connect to at start, /ip4/…/tcp/…/p2p/… (repeatable).")
    var bootstrap: [String] = []

    @Option(help: "The ledger: local:PATH (a SQLite file shared by the nodes of one machine).")
    var ledger: String = "local:meshfl-dev.ledger"

    @Option(help: "Where objects live: local:DIR (the data directory's block store when omitted).")
    var storage: String?

    @Option(help: "CPU cores (BLAS threads) for training and verification.")
    var cores: Int = 1

    @Option(help: "Tinybars a trainer keeps staked (jobs set a minimum).")
    var stake: Int64 = 5_000

    @Option(help: "A trainer exits after this many seconds with nothing to do (default: never).")
    var idleExit: Double?

    @Option(help: "Stop after this many seconds (default: run until killed).")
    var duration: Double?

    @Option(help: .hidden)
    var cheat: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    func validate() throws {
        guard NodeRole(rawValue: role) != nil else { throw ValidationError("--role \(role): expected requester or trainer") }
        for address in listen + bootstrap {
            do { _ = try Multiaddr(address) } catch { throw ValidationError("\(address): \(error.message)") }
        }
        guard cores >= 1 && cores <= 256 else { throw ValidationError("--cores must be between 1 and 256, got \(cores)") }
        if let cheat, TrainerNode.Cheat(rawValue: cheat) == nil { throw ValidationError("--cheat \(cheat): unknown") }
        if let storage, !storage.hasPrefix("local:") {
            throw ValidationError("--storage \(storage): nodes serve objects from a local block store for now; use local:DIR")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level \(logLevel): unknown level") }
        _ = try localLedgerPath(ledger, dataDir: dataDir.path)
    }

    func run() async throws {
        var options = NodeOptions(role: NodeRole(rawValue: role)!, dataDirectory: dataDir.path,
                                  ledgerPath: try localLedgerPath(ledger, dataDir: dataDir.path))
        options.listen = try listen.map { try Multiaddr($0) }
        options.bootstrap = try bootstrap.map { try Multiaddr($0) }
        options.cores = cores
        options.stake = stake
        options.idleExit = idleExit.map { .milliseconds(Int($0 * 1000)) }
        if let duration { options.lifetime = .milliseconds(Int(duration * 1000)) }
        options.cheat = cheat.flatMap(TrainerNode.Cheat.init(rawValue:))
        var logger = Logger(label: "meshfl.\(role)")
        logger.logLevel = Logger.Level(rawValue: logLevel)!
        do {
            try await NodeRunner.run(options, logger: logger) { addresses in
                if let first = addresses.first { P2PCommand.Listen.say(first.description) }
            }
        } catch let error as NodeError {
            throw UsageError(error.message)
        }
    }
}
