public import Crypto
public import Foundation
public import Gossipsub
public import Libp2p
public import Logging
public import MeshLedger
import MeshLearning
import MeshNN
import MeshStorage
import MeshTensor

/// The trainer role: learns of jobs (gossipsub announcements and the
/// requesters it is connected to), claims tasks, trains them
/// deterministically, seals and uploads the weights, and hands in a signed
/// receipt. A trainer keeps no state that matters: killed at any point, it
/// loses only its lease.
public actor TrainerNode {
    /// How a deliberately dishonest trainer misbehaves (tests and the demo's cheater).
    public enum Cheat: String, Sendable, CaseIterable {
        /// Adds noise to the trained weights and claims them (caught by re-execution, slashed).
        case perturb
        /// Returns NaN weights (rejected).
        case nan
        /// Names a digest that is not its weights' (rejected).
        case wrongHash = "wrong-hash"
    }

    public struct Counters: Sendable {
        public var leased = 0
        public var accepted = 0
        public var rejected = 0
        public var slashed = false
        public var paid: Int64 = 0
    }

    let host: Libp2p.Host
    let identity: PrivateKey
    let account: LedgerOperator
    let bootstrap: [PeerID]
    let pubsub: GossipsubService?
    let cheat: Cheat?
    let logger: Logger
    let metrics: NodeMetrics
    let client = RequestResponse(protocolID: Requester.taskProtocol, maxMessageSize: 8 << 20, timeout: .seconds(300))

    var known: [String: JobSpec] = [:]
    /// When the bootstrap peers were last asked for their jobs.
    var lastDiscovery: ContinuousClock.Instant?
    var finished: Set<String> = []
    var shards: [String: Dataset] = [:]
    public private(set) var counters = Counters()
    /// The run loop's idle pause, while it is in one: ended by its timer, or at
    /// once by ``learn(_:)`` when a job appears.
    var idlePause = ParkedCallers()

    public init(host: Libp2p.Host, identity: PrivateKey, account: LedgerOperator, bootstrap: [PeerID], pubsub: GossipsubService?,
                cheat: Cheat?, logger: Logger, metrics: NodeMetrics = NodeMetrics(role: .trainer)) {
        self.host = host
        self.identity = identity
        self.account = account
        self.bootstrap = bootstrap
        self.pubsub = pubsub
        self.cheat = cheat
        self.logger = logger
        self.metrics = metrics
    }

    /// Works until `deadline` passes, or until every known job is finished
    /// and nothing new appeared for `idleExit` (when set).
    public func run(until deadline: ContinuousClock.Instant, idleExit: Duration?) async {
        if let pubsub {
            let messages = await pubsub.subscribe(Requester.jobsTopic)
            Task { [weak self] in
                for await message in messages {
                    guard let self else { return }
                    if let signed = try? JSONDecoder().decode(SignedMessage<JobSpec>.self, from: Data(message.data)) {
                        await self.learn(signed)
                    }
                }
            }
        }
        var idleSince = ContinuousClock.now
        while ContinuousClock.now < deadline, !Task.isCancelled {
            // Asking for jobs costs the requester an encoding of every running job: do it when idle, or every few seconds.
            let working = known.keys.contains { !finished.contains($0) }
            if !working || lastDiscovery.map({ ContinuousClock.now - $0 > Self.rediscovery }) ?? true {
                lastDiscovery = .now
                await discover()
            }
            var worked = false
            for id in known.keys.sorted() where !finished.contains(id) {
                if await work(on: known[id]!) { worked = true }
            }
            if worked || known.keys.contains(where: { !finished.contains($0) }) { idleSince = .now }
            if let idleExit, ContinuousClock.now - idleSince > idleExit { return }
            if !worked { await pauseWhileIdle(Self.idlePause) }
        }
    }

    /// How long an idle trainer waits before it looks for work again, unless a job is announced meanwhile.
    static let idlePause: Duration = .milliseconds(300)

    /// Waits `duration`, or less when ``learn(_:)`` hears of a new job or the task is cancelled:
    /// a trainer starts on an announced job at once, not up to a pause later.
    func pauseWhileIdle(_ duration: Duration) async {
        let id = idlePause.newID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                guard !Task.isCancelled else { return continuation.resume() }
                idlePause.park(id, continuation, timeout: duration) { Task { [weak self] in await self?.endIdlePause(id) } }
            }
        } onCancel: {
            Task { [weak self] in await self?.endIdlePause(id) }
        }
    }

    /// Ends the idle pause `id` (any pause when nil), if the run loop is still in it.
    func endIdlePause(_ id: Int? = nil) {
        if let id { idlePause.wake(id) } else { idlePause.wakeAll() }
    }

    /// How often a busy trainer asks its bootstrap peers for new jobs (gossip announcements arrive in between).
    static let rediscovery: Duration = .seconds(5)

    func learn(_ signed: SignedMessage<JobSpec>) {
        let spec: JobSpec
        do { spec = try JobSpec.verifiedAnnouncement(signed) } catch {
            logger.warning("job announcement dropped: \(error)")
            return
        }
        guard known[spec.id] == nil else { return }
        known[spec.id] = spec
        logger.info("job discovered", metadata: ["job": "\(spec.id)", "requester": "\(spec.requester)"])
        endIdlePause()
    }

    /// Asks the bootstrap peers (requesters) for their running jobs.
    func discover() async {
        for peer in bootstrap {
            guard let bytes = try? await client.request(peer, payload: Array(CanonicalJSON.encode(TaskRequest.jobs)), on: host),
                  case .jobs(let list) = try? JSONDecoder().decode(TaskResponse.self, from: Data(bytes)) else { continue }
            for signed in list { learn(signed) }
        }
    }

    /// Claims and runs one task of `spec`; true if a task was handed in.
    func work(on spec: JobSpec) async -> Bool {
        guard let requester = try? PeerID(string: spec.requester) else { finished.insert(spec.id); return false }
        for text in spec.requesterAddresses {
            if let address = try? Multiaddr(text) { await host.peerstore.addAddresses([address], for: requester) }
        }
        do {
            let claim = TaskRequest.claim(Claim(job: spec.id, account: account.account.description))
            switch try await call(requester, claim) {
            case .lease(let lease):
                counters.leased += 1
                metrics.add(.tasksLeased, 1, ["job": spec.id])
                logger.debug("lease received", metadata: ["job": "\(spec.id)", "round": "\(lease.round)", "shard": "\(lease.shard)",
                                                          "storage": "\(URLComponents(string: lease.resultURL).map { "\($0.host ?? ""):\($0.port ?? 80)" } ?? "?")"])
                let receipt = try await perform(lease, spec: spec)
                logger.debug("result uploaded; handing in the receipt", metadata: ["job": "\(spec.id)", "round": "\(lease.round)", "shard": "\(lease.shard)"])
                switch try await call(requester, .submit(receipt)) {
                case .accepted(let paid):
                    counters.accepted += 1
                    counters.paid += paid
                    metrics.add(.resultsAccepted, 1, ["job": spec.id])
                    metrics.add(.paidTinybars, Double(paid), ["job": spec.id])
                    logger.info("result accepted", metadata: ["job": "\(spec.id)", "task": "\(JobSpec.taskID(round: lease.round, shard: lease.shard))", "paid": "\(paid)"])
                case .rejected(let reason, let slashed):
                    counters.rejected += 1
                    if slashed { counters.slashed = true }
                    metrics.add(slashed ? .trainersSlashed : .resultsRejected, 1, ["job": spec.id])
                    logger.warning("result rejected", metadata: ["job": "\(spec.id)", "reason": "\(reason)", "slashed": "\(slashed)"])
                case .finished:
                    finished.insert(spec.id)
                default:
                    break
                }
                return true
            case .wait(let seconds, _):
                // The requester already held the claim until a task could open; retry after its hint, no idle sleep on top.
                try? await Task.sleep(for: .milliseconds(Int(min(seconds, 2) * 1000)))
                return true
            case .finished(let reason):
                logger.info("job over for this trainer", metadata: ["job": "\(spec.id)", "reason": "\(reason)"])
                finished.insert(spec.id)
            case .rejected(let reason, _):
                logger.warning("claim refused", metadata: ["job": "\(spec.id)", "reason": "\(reason)"])
                try? await Task.sleep(for: .seconds(1))
            case .jobs, .accepted:
                break
            }
        } catch {
            logger.warning("task exchange with \(requester) failed: \(error)")
            try? await Task.sleep(for: .seconds(1))
        }
        return false
    }

    func call(_ peer: PeerID, _ request: TaskRequest) async throws -> TaskResponse {
        let bytes = try await client.request(peer, payload: Array(CanonicalJSON.encode(request)), on: host)
        do { return try JSONDecoder().decode(TaskResponse.self, from: Data(bytes)) } catch {
            throw NodeError(.malformed, "requester \(peer) answered with something that is not a task response")
        }
    }

    /// Downloads, trains, seals, uploads; returns the signed receipt.
    func perform(_ lease: Lease, spec: JobSpec) async throws -> SignedMessage<Receipt> {
        let global = try Weights.decode(try await PresignedTransfer.download(lease.weightsURL), source: "global weights of \(spec.id) round \(lease.round)")
        let shardKey = "\(spec.id)/\(lease.shard)"
        let shard: Dataset
        if let cached = shards[shardKey] { shard = cached } else {
            shard = try ShardFile.decode(try await PresignedTransfer.download(lease.shardURL), source: "shard \(lease.shard) of \(spec.id)")
            shards[shardKey] = shard
        }
        let trainingStarted = ContinuousClock.now
        var output = try await Compute.run { try TaskExecution.run(job: spec, start: global, shard: shard, seed: lease.seed) }
        let trainSeconds = (ContinuousClock.now - trainingStarted) / .seconds(1)
        metrics.add(.trainingSeconds, trainSeconds, ["job": spec.id])
        logger.debug("trained", metadata: ["job": "\(spec.id)", "shard": "\(lease.shard)", "seconds": "\(trainSeconds)"])
        var digest = output.transcript.last ?? ""
        switch cheat {
        case .perturb?:
            var generator = SystemRandomNumberGenerator()
            for (name, tensor) in output.weights {
                output.weights[name] = Tensor(shape: tensor.shape, scalars: tensor.scalars.map { $0 + Float.random(in: -0.02...0.02, using: &generator) })
            }
            digest = Weights.digest(output.weights)
            output.transcript[output.transcript.count - 1] = digest
        case .nan?:
            for (name, tensor) in output.weights { output.weights[name] = Tensor(repeating: .nan, shape: tensor.shape) }
            digest = Weights.digest(output.weights)
            output.transcript[output.transcript.count - 1] = digest
        case .wrongHash?:
            digest = String(repeating: "0", count: 64)
        case nil:
            break
        }
        let plain = Weights.encode(output.weights)
        guard let keyBytes = hexBytes(spec.sealingKey), let recipient = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: keyBytes) else {
            throw NodeError(.malformed, "job \(spec.id) has an unusable sealing key")
        }
        let sealed = try Sealer.seal(plain, to: recipient)
        try await PresignedTransfer.upload(sealed, to: lease.resultURL)
        let receipt = Receipt(job: spec.id, round: lease.round, shard: lease.shard, lease: lease.lease, trainer: identity.peerID.description,
                              account: account.account.description, weightsDigest: digest, sealedDigest: Weights.sha256Hex(sealed),
                              sampleCount: output.sampleCount, trainLoss: output.meanLoss, transcript: output.transcript,
                              trainSeconds: trainSeconds)
        return try SignedMessage(signing: receipt, with: identity)
    }
}

func hexBytes(_ text: String) -> [UInt8]? {
    let utf8 = Array(text.utf8)
    guard utf8.count % 2 == 0 else { return nil }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(utf8.count / 2)
    for index in stride(from: 0, to: utf8.count, by: 2) {
        guard let byte = UInt8(String(decoding: utf8[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
        bytes.append(byte)
    }
    return bytes
}
