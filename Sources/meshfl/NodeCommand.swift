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

/// Parses `--ledger local:PATH|hedera:CONFIG` and reads a Hedera config file,
/// so a bad one stops the command (status 2) naming the file and the field.
func ledgerLocation(_ text: String) throws -> LedgerLocation {
    do throws(NodeError) {
        let location = try LedgerLocation(parsing: text)
        try location.check()
        return location
    } catch {
        throw ValidationError(error.message)
    }
}

/// `meshfl node`: runs a requester or a trainer.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a node of the network: a requester (serves jobs, verifies, pays), a trainer (claims and trains tasks) or a validator (re-executes tasks for requesters).",
        discussion: """
            The first line printed is the node's full address (/ip4/…/tcp/…/p2p/…) for
            other nodes' --bootstrap. Logs go to standard error (--log-format json for
            one JSON object per line); --metrics HOST:PORT serves Prometheus /metrics.

              meshfl node --role requester --data-dir req --ledger local:dev.ledger
              meshfl submit --data-dir req --ledger local:dev.ledger --model examples/mlp.json --rounds 5 --shards 8 --reward 100
              meshfl node --role trainer --data-dir t1 --ledger local:dev.ledger --bootstrap /ip4/127.0.0.1/tcp/…/p2p/…

            Every setting can also come from the environment (MESHFL_ROLE, MESHFL_DATA_DIR,
            MESHFL_LISTEN, MESHFL_BOOTSTRAP, MESHFL_LEDGER, MESHFL_STORAGE, MESHFL_CORES,
            MESHFL_STAKE, MESHFL_METRICS, MESHFL_LOG_LEVEL, MESHFL_LOG_FORMAT, MESHFL_NICE;
            lists comma-separated) or from a JSON config file (--config, else $MESHFL_CONFIG,
            else <data dir>/node.json when it exists) with the keys role, dataDir, listen,
            bootstrap, ledger, storage, cores, stake, metrics, logLevel, logFormat, nice.
            Flags win over the environment, which wins over the file.

            A requester may keep its jobs' objects in an S3-compatible bucket instead of its
            data directory: --storage s3:storage.json with {"endpoint": "http://127.0.0.1:4566",
            "region": "us-east-1", "bucket": "meshfl", "createBucket": true} and credentials in
            AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the variables named by the file's
            accessKeyIdEnv / secretAccessKeyEnv). Trainers then upload and download straight
            from the bucket. Akave O3: see docs/storage.md.
            """
    )

    @Option(help: "requester, trainer or validator.")
    var role: String?

    @Option(help: "A JSON config file (see below).")
    var config: String?

    @Option(help: "The node's data directory: identity key, sealing key, ledger account, blocks, node.sqlite (default: $MESHFL_DATA_DIR, else ~/.local/share/meshfl).")
    var dataDir: String?

    @Option(help: "Multiaddr to listen on (repeatable; default /ip4/127.0.0.1/tcp/0).")
    var listen: [String] = []

    @Option(help: "A peer to connect to at start, /ip4/…/tcp/…/p2p/… (repeatable).")
    var bootstrap: [String] = []

    @Option(help: "The ledger: local:PATH (a SQLite file shared by the nodes of one machine; default local:meshfl-dev.ledger) or hedera:CONFIG (a JSON file naming a Hedera network and this node's account; see docs/ledger.md).")
    var ledger: String?

    @Option(help: "Where a requester keeps job objects: local:DIR (the node's block store, in DIR — <data dir>/blocks then links there; plain local: keeps it in the data directory, the default) or s3:CONFIG (a JSON file naming an S3-compatible endpoint, region and bucket; credentials from $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY).")
    var storage: String?

    @Option(help: "CPU cores (BLAS threads) for training and verification (default 1).")
    var cores: Int?

    @Option(help: "Scheduling priority of the whole process, 0 (normal) to 19 (lowest). A trainer lends idle CPU and defaults to 10, so the machine's own work comes first (19: only otherwise idle CPU); other roles default to 0.")
    var nice: Int?

    @Option(help: "Tinybars a trainer keeps staked (jobs set a minimum; default 5000).")
    var stake: Int64?

    @Option(help: "Serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9464; port 0 picks one and logs it).")
    var metrics: String?

    @Option(help: "A trainer exits after this many seconds with nothing to do (default: never).")
    var idleExit: Double?

    @Option(help: "Stop after this many seconds (default: run until killed).")
    var duration: Double?

    @Option(help: .hidden)
    var cheat: String?

    @OptionGroup var validation: ValidatorOptions

    @Option(help: "Log level: trace, debug, info, notice, warning, error (default info).")
    var logLevel: String?

    @Option(help: "Log format: text or json (default text).")
    var logFormat: String?

    func validate() throws {
        try validation.validate(role: role ?? "")
        if let cheat, TrainerNode.Cheat(rawValue: cheat) == nil { throw ValidationError("--cheat \(cheat): unknown") }
    }

    /// The settings given as flags.
    var flags: NodeConfiguration {
        var flags = NodeConfiguration()
        flags.role = role
        flags.dataDir = dataDir
        flags.listen = listen.isEmpty ? nil : listen
        flags.bootstrap = bootstrap.isEmpty ? nil : bootstrap
        flags.ledger = ledger
        flags.storage = storage
        flags.cores = cores
        flags.stake = stake
        flags.metrics = metrics
        flags.logLevel = logLevel
        flags.logFormat = logFormat
        flags.nice = nice
        return flags
    }

    /// Flags over the environment over the config file, checked.
    func resolved(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> (NodeOptions, NodeConfiguration) {
        let fromEnvironment = try NodeConfiguration.environment(environment)
        let dataDirectory = dataDir ?? fromEnvironment.dataDir
        var file = NodeConfiguration()
        if let path = config ?? environment["MESHFL_CONFIG"].flatMap({ $0.isEmpty ? nil : $0 }) {
            file = try NodeConfiguration.load(path)
        } else if let dataDirectory, FileManager.default.fileExists(atPath: dataDirectory + "/node.json") {
            file = try NodeConfiguration.load(dataDirectory + "/node.json")
        }
        let settings = file.overriding(fromEnvironment).overriding(flags)
        guard let roleName = settings.role else {
            throw ValidationError("no role: pass --role requester|trainer|validator (or MESHFL_ROLE, or \"role\" in the config file)")
        }
        guard let role = NodeRole(rawValue: roleName) else { throw ValidationError("role \(roleName): expected requester, trainer or validator") }
        let path = settings.dataDir ?? (NSHomeDirectory() + "/.local/share/meshfl")
        let ledgerText = settings.ledger ?? "local:meshfl-dev.ledger"
        var options = NodeOptions(role: role, dataDirectory: path, ledger: try ledgerLocation(ledgerText))
        do {
            options.listen = try (settings.listen ?? ["/ip4/127.0.0.1/tcp/0"]).map { try Multiaddr($0) }
            options.bootstrap = try (settings.bootstrap ?? []).map { try Multiaddr($0) }
        } catch let error as Libp2pError {
            throw ValidationError("listen or bootstrap address: \(error.message)")
        }
        options.cores = settings.cores ?? 1
        guard (1...256).contains(options.cores) else { throw ValidationError("cores must be between 1 and 256, got \(options.cores)") }
        if let nice = settings.nice {
            guard (0...19).contains(nice) else {
                throw ValidationError("nice must be between 0 (normal priority) and 19 (lowest), got \(nice); a node never asks for more than normal priority")
            }
            options.nice = nice
        }
        options.stake = settings.stake ?? 5_000
        guard options.stake >= 0 else { throw ValidationError("stake must not be negative, got \(options.stake)") }
        if let storage = settings.storage {
            do { options.storage = try StorageSetting.parse(storage, environment: environment) } catch let error as NodeError {
                throw ValidationError(error.message)
            }
        }
        if let address = settings.metrics {
            do { _ = try MetricsServer.parse(address) } catch let error as NodeError { throw ValidationError(error.message) }
            options.metricsAddress = address
        }
        guard Logger.Level(rawValue: settings.logLevel ?? "info") != nil else {
            throw ValidationError("log level \(settings.logLevel ?? ""): expected trace, debug, info, notice, warning or error")
        }
        guard ["text", "json"].contains(settings.logFormat ?? "text") else {
            throw ValidationError("log format \(settings.logFormat ?? ""): expected text or json")
        }
        options.idleExit = idleExit.map { .milliseconds(Int($0 * 1000)) }
        if let duration { options.lifetime = .milliseconds(Int(duration * 1000)) }
        options.cheat = cheat.flatMap(TrainerNode.Cheat.init(rawValue:))
        try validation.apply(to: &options)
        return (options, settings)
    }

    func run() async throws {
        let (options, settings) = try resolved()
        if settings.logFormat == "json" {
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label) }
        }
        var logger = Logger(label: "meshfl.\(options.role.rawValue)")
        logger.logLevel = Logger.Level(rawValue: settings.logLevel ?? "info")!
        do {
            try await NodeRunner.run(options, logger: logger) { addresses in
                if let first = addresses.first { P2PCommand.Listen.say(first.description) }
            }
        } catch let error as NodeError {
            throw UsageError(error.message)
        }
    }
}
