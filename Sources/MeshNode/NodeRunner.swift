public import Foundation
public import Gossipsub
public import Libp2p
public import Logging
public import MeshLedger
public import MeshStorage
import MeshTensor

/// A node's roles.
public enum NodeRole: String, Sendable, CaseIterable {
    case requester
    case trainer
    /// Re-executes tasks for requesters over `/meshfl/verify/1.0.0`.
    case validator
}

/// Everything `meshfl node` needs to run one node.
public struct NodeOptions: Sendable {
    public var role: NodeRole
    public var dataDirectory: String
    public var listen: [Multiaddr] = []
    public var bootstrap: [Multiaddr] = []
    /// The ledger (`--ledger local:PATH|hedera:CONFIG`).
    public var ledger: LedgerLocation
    /// BLAS threads for training and re-execution.
    public var cores = 1
    /// Tinybars a trainer keeps staked.
    public var stake: Int64 = 5_000
    /// Trainers: leave after this long with no job to work on (nil: run until stopped).
    public var idleExit: Duration?
    /// Stop after this long in any case.
    public var lifetime: Duration = .seconds(24 * 3600)
    public var cheat: TrainerNode.Cheat?
    /// Where `/metrics` is served (`HOST:PORT`, port 0 picks one); nil serves none.
    public var metricsAddress: String?
    /// Requesters: validators to hand re-execution to (`--validator`), and the limit on one such request.
    public var validators: [Multiaddr] = []
    public var validatorTimeout: Duration = .seconds(120)
    /// Validators: what they accept and spend (`--max-reexecutions`).
    public var validatorLimits = Validator.Limits()
    /// Requesters: where job objects live (`--storage`; see ``JobStorage``).
    public var storage: StorageSetting = .local(directory: nil)
    /// The process's nice value (`--nice`; see ``ProcessPriority``): 10 for a trainer, else 0.
    public var nice: Int

    public init(role: NodeRole, dataDirectory: String, ledger: LedgerLocation) {
        self.role = role
        self.dataDirectory = dataDirectory
        self.ledger = ledger
        self.nice = role == .trainer ? 10 : 0
    }

    /// Options on the local ledger file at `ledgerPath`.
    public init(role: NodeRole, dataDirectory: String, ledgerPath: String) {
        self.init(role: role, dataDirectory: dataDirectory, ledger: .local(path: ledgerPath))
    }
}

/// Assembles a node — host, presigned server, ledger, gossipsub, role — and runs it.
public enum NodeRunner {
    /// Runs until the lifetime ends (or, for a trainer, it has been idle for
    /// `idleExit`). `ready` is called once with the node's full listen
    /// addresses (`meshfl node` prints the first on its first line).
    public static func run(_ options: NodeOptions, logger: Logger, ready: @Sendable ([Multiaddr]) -> Void) async throws {
        BLAS.setThreads(options.cores)
        if options.nice != 0 {
            try ProcessPriority.set(nice: options.nice)
            logger.info("running at nice \(options.nice)\(options.role == .trainer ? " (the machine's own work first; --nice 0 for normal priority)" : "")")
        }
        let directory = try NodeDirectory(options.dataDirectory)
        if case .local(let blocks?) = options.storage { try directory.placeBlocks(at: URL(fileURLWithPath: blocks)) }
        let identity = try directory.identity()
        let ledger = try await options.ledger.open()
        var configuration = Libp2p.Host.Configuration()
        configuration.agentVersion = "meshfl/0.1.0 (\(options.role.rawValue))"
        let host = Libp2p.Host(identity: identity, configuration: configuration, logger: logger)
        let metrics = NodeMetrics(role: options.role)
        var metricsServer: MetricsServer?
        if let text = options.metricsAddress {
            let (metricsHost, metricsPort) = try MetricsServer.parse(text)
            let server = try await MetricsServer.start(metrics, host: metricsHost, port: metricsPort)
            metricsServer = server
            logger.notice("metrics at http://\(metricsHost):\(server.port)/metrics")
        }
        let connections = await host.events()
        let peerGauge = Task {
            for await event in connections {
                switch event {
                case .connected: metrics.add(.peersConnected, 1)
                case .disconnected: metrics.add(.peersConnected, -1)
                case .identified: break
                }
            }
        }
        defer { peerGauge.cancel() }
        let listen = options.listen.isEmpty ? [try Multiaddr("/ip4/127.0.0.1/tcp/0")] : options.listen
        try await host.listen(on: listen)
        var gossip = GossipsubConfiguration()
        gossip.heartbeatInterval = .milliseconds(500)
        let pubsub = GossipsubService(host: host, key: identity, configuration: gossip)
        await pubsub.start()
        var bootstrapPeers: [PeerID] = []
        for address in options.bootstrap {
            do { bootstrapPeers.append(try await host.connect(to: address)) } catch {
                logger.warning("bootstrap peer \(address) unreachable: \(error); will retry through discovery")
                if case .p2p(let peer)? = address.components.last { bootstrapPeers.append(peer) }
            }
        }
        let addresses = await host.fullAddresses
        let account = try await ledger.nodeAccount(in: directory, funding: 1_000_000)
        switch options.role {
        case .requester:
            // With S3 storage trainers talk to the bucket alone: no PresignedServer runs.
            var server: PresignedServer?
            let storage: JobStorage
            switch options.storage {
            case .local:
                // Uploads here are trainers' sealed results: checked against their receipts, and only the verified
                // plaintext is kept (in node.sqlite), so they are kept in memory (on disk, unsynced, when memory is
                // full) and deleted once verified — a lost one costs a task, not state.
                let store = try directory.blobStore()
                let started = try await PresignedServer.start(store: store, uploads: .buffered, stageUploads: true)
                server = started
                storage = .local(store.served(at: URL(string: "http://127.0.0.1:\(started.port)")!))
            case .s3(let path, let config):
                storage = try await .s3(config, local: try directory.blobStore())
                logger.notice("job objects in S3", metadata: ["config": "\(path)", "endpoint": "\(config.endpoint)", "bucket": "\(config.bucket)"])
            }
            let requester = try Requester(host: host, identity: identity, directory: directory, storage: storage, ledger: ledger,
                                          account: account, pubsub: pubsub, logger: logger, metrics: metrics)
            await requester.delegateVerification(to: await validatorPeers(options.validators, on: host, logger: logger), timeout: options.validatorTimeout)
            await requester.start()
            ready(addresses)
            try? await Task.sleep(for: options.lifetime)
            await requester.stop()
            try? await server?.stop()
        case .trainer:
            let staked = try await ledger.stake(of: account.account).staked
            if staked < options.stake { try await ledger.stake(options.stake - staked, trainer: account) }
            let trainer = TrainerNode(host: host, identity: identity, account: account, bootstrap: bootstrapPeers,
                                      pubsub: pubsub, cheat: options.cheat, logger: logger, metrics: metrics)
            ready(addresses)
            await trainer.run(until: .now + options.lifetime, idleExit: options.idleExit)
        case .validator:
            let validator = Validator(host: host, identity: identity, limits: options.validatorLimits, logger: logger)
            await validator.start()
            ready(addresses)
            try? await Task.sleep(for: options.lifetime)
        }
        await pubsub.stop()
        await host.shutdown()
        try? await metricsServer?.stop()
        await ledger.close()
    }
}
