public import Libp2p
import NIOCore

/// Runs a ``GossipsubStateMachine`` on a libp2p ``Host``: serves `/meshsub/1.1.0`, `/meshsub/1.0.0` and
/// `/floodsub/1.0.0`, opens one outbound pubsub stream per connected peer, beats the heartbeat, and
/// writes each peer's RPCs through a bounded ``OutboundQueue``.
///
/// ```swift
/// let pubsub = GossipsubService(host: host, key: key)
/// await pubsub.start()
/// let messages = await pubsub.subscribe("jobs")
/// await pubsub.publish("jobs", Array("hello".utf8))
/// for await message in messages { print(message.data) }
/// ```
public actor GossipsubService {
    struct Writer {
        var stream: P2PStream?
        var queue: OutboundQueue
        var flushing = false
        var opening = false
    }

    /// The host the router runs on.
    public let host: Host
    var router: GossipsubStateMachine
    let clock = ContinuousClock()
    let origin: ContinuousClock.Instant
    var writers: [PeerID: Writer] = [:]
    var added: Set<PeerID> = []
    var subscribers: [String: [Int: AsyncStream<PubsubMessage>.Continuation]] = [:]
    var nextSubscriber = 0
    var tasks: [Task<Void, Never>] = []
    /// Validates messages of ``GossipsubStateMachine/validatedTopics`` topics; `nil` accepts all.
    var validator: (@Sendable (PubsubMessage) async -> ValidationResult)?
    /// Finds addresses of peers offered in peer exchange (see ``setPeerResolver(_:)``).
    var peerResolver: (@Sendable (PeerID) async -> [Multiaddr])?
    var dialledFromExchange: [PeerID] = []

    /// Creates the service; call ``start()`` to serve and connect.
    public init(host: Host, key: PrivateKey, configuration: GossipsubConfiguration = .init(), seed: UInt64 = .random(in: 0...UInt64.max)) {
        self.host = host
        router = GossipsubStateMachine(localKey: key, configuration: configuration, seed: seed)
        origin = clock.now
    }

    var now: Duration { clock.now - origin }

    /// Registers the stream handlers, follows host connection events and starts the heartbeat.
    public func start() async {
        for proto in PubsubProtocol.preferenceOrder {
            await host.setHandler(proto) { [weak self] stream in await self?.serveInbound(stream) }
        }
        let events = await host.events()
        tasks.append(Task { [weak self] in
            for await event in events {
                guard let self else { return }
                switch event {
                case .connected(let peer, _): await self.openOutbound(peer)
                case .disconnected(let peer): await self.peerGone(peer)
                case .identified(let peer): await self.learnRecord(of: peer)
                }
            }
        })
        for peer in await host.connectedPeers { openOutboundSoon(peer) }
        let interval = router.configuration.heartbeatInterval
        tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self else { return }
                await self.handle(.heartbeat)
            }
        })
    }

    /// Stops the heartbeat and event tasks and ends every subscription stream.
    public func stop() {
        for task in tasks { task.cancel() }
        tasks = []
        for continuation in subscribers.values.flatMap(\.values) { continuation.finish() }
        subscribers = [:]
    }

    /// Subscribes to `topic`; messages (own ones included) arrive on the returned stream.
    public func subscribe(_ topic: String) -> AsyncStream<PubsubMessage> {
        let (stream, continuation) = AsyncStream<PubsubMessage>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let id = nextSubscriber
        nextSubscriber += 1
        subscribers[topic, default: [:]][id] = continuation
        handle(.subscribe(topic))
        return stream
    }

    /// Publishes `data` to `topic`.
    public func publish(_ topic: String, _ data: [UInt8]) {
        handle(.publish(topic: topic, data: data))
    }

    /// Routes `topic` through `validator` before delivery and forwarding.
    public func setValidator(topic: String, _ validator: @escaping @Sendable (PubsubMessage) async -> ValidationResult) {
        self.validator = validator
        router.validatedTopics.insert(topic)
    }

    /// The mesh of `topic` right now.
    public func meshPeers(_ topic: String) -> Set<PeerID> { router.meshPeers(topic) }

    /// The peers known to be subscribed to `topic` right now.
    public func topicPeers(_ topic: String) -> Set<PeerID> { router.topicPeers[topic] ?? [] }

    // MARK: Driving the machine

    func handle(_ event: GossipsubEvent) {
        perform(router.receive(event, now: now))
    }

    func perform(_ actions: [GossipsubAction]) {
        for action in actions {
            switch action {
            case .send(let rpc, let peer):
                // Enqueue in place: a copy of the writer would share the queue's storage, and the append
                // would then copy every queued RPC (quadratic in the queue length under load).
                writers[peer, default: Writer(queue: OutboundQueue(capacity: router.configuration.maxOutboundQueue))]
                    .queue.enqueue(rpc)
                flushSoon(peer)
            case .deliver(let message, _, _):
                for continuation in (subscribers[message.topic] ?? [:]).values { continuation.yield(message) }
            case .validate(let message, let id, _):
                let validator = self.validator
                Task { [weak self] in
                    let verdict = await validator?(message) ?? .accept
                    await self?.handle(.validated(id, verdict))
                }
            case .discovered(let offered, _):
                connectExchanged(offered)
            }
        }
    }

    func ensurePeer(_ peer: PeerID, proto: PubsubProtocol, outbound: Bool) {
        guard added.insert(peer).inserted else { return }
        handle(.peerAdded(peer, protocol: proto, outbound: outbound))
    }

    func peerGone(_ peer: PeerID) {
        writers[peer] = nil
        if added.remove(peer) != nil { handle(.peerRemoved(peer)) }
    }

    nonisolated func openOutboundSoon(_ peer: PeerID) {
        Task { await self.openOutbound(peer) }
    }

    func openOutbound(_ peer: PeerID) async {
        var writer = writers[peer] ?? Writer(queue: OutboundQueue(capacity: router.configuration.maxOutboundQueue))
        guard writer.stream == nil, !writer.opening else { return }
        writer.opening = true
        writers[peer] = writer
        do {
            let stream = try await host.newStream(to: peer, protocols: PubsubProtocol.preferenceOrder)
            let proto = stream.protocolID.flatMap(PubsubProtocol.init(rawValue:)) ?? .meshsub11
            writers[peer, default: Writer(queue: OutboundQueue(capacity: router.configuration.maxOutboundQueue))].stream = stream
            writers[peer]?.opening = false
            ensurePeer(peer, proto: proto, outbound: true)
            flushSoon(peer)
        } catch {
            writers[peer]?.opening = false
        }
    }

    func serveInbound(_ stream: P2PStream) async {
        let peer = stream.remotePeer
        let proto = stream.protocolID.flatMap(PubsubProtocol.init(rawValue:)) ?? .meshsub11
        ensurePeer(peer, proto: proto, outbound: false)
        if writers[peer]?.stream == nil { openOutboundSoon(peer) }
        let limits = router.configuration.limits
        var pending = ByteBuffer()
        do {
            // Every RPC that arrived in one read is decoded and handled in this actor turn: no hop back to
            // the connection per RPC, and the sends they cause are queued together before the flushes run.
            while var chunk = try await stream.read() {
                pending.writeBuffer(&chunk)
                while let frame = try Self.nextFrame(&pending, maxLength: limits.maxRPCSize) {
                    handle(.rpc(try PubsubRPC(protobuf: Array(frame.readableBytesView), limits: limits), from: peer))
                }
                pending.discardReadBytes()
            }
            if pending.readableBytes > 0 { await stream.reset() }
        } catch {
            await stream.reset()
        }
    }

    /// The next whole uvarint-length-prefixed frame at the reader index of `buffer`, or `nil` (and the
    /// reader index unmoved) until all of it has arrived.
    ///
    /// - Throws: ``GossipsubError/Code/tooLarge`` for a frame longer than `maxLength`.
    static func nextFrame(_ buffer: inout ByteBuffer, maxLength: Int) throws -> ByteBuffer? {
        let start = buffer.readerIndex
        guard let length = try UVarint.read(from: &buffer) else { return nil }
        guard length <= UInt64(maxLength) else {
            throw GossipsubError(.tooLarge, "RPC of \(length) bytes exceeds the \(maxLength)-byte limit")
        }
        guard let frame = buffer.readSlice(length: Int(length)) else {
            buffer.moveReaderIndex(to: start)
            return nil
        }
        return frame
    }

    func flushSoon(_ peer: PeerID) {
        guard let writer = writers[peer], writer.stream != nil, !writer.flushing, writer.queue.count > 0 else { return }
        writers[peer]?.flushing = true
        Task { await self.flush(peer) }
    }

    /// Writes what is queued for `peer`, coalescing the RPCs queued so far into one stream write (one
    /// Noise frame and one socket write for a burst instead of one per RPC).
    func flush(_ peer: PeerID) async {
        while let stream = writers[peer]?.stream, (writers[peer]?.queue.count ?? 0) > 0 {
            var batch: [UInt8] = []
            while batch.count < Self.maxBatchBytes, let rpc = writers[peer]?.queue.dequeue() {
                let bytes = rpc.protobufBytes
                UVarint.encode(UInt64(bytes.count), into: &batch)
                batch += bytes
            }
            do { try await stream.write(batch) } catch {
                // The stream failed (the remote reset it, or the connection went). Until now the peer stayed
                // in the mesh with no stream, and everything routed to it was queued until dropped. While
                // the connection is up and the peer is still ours, open a new stream; the batch is lost.
                writers[peer]?.stream = nil
                writers[peer]?.flushing = false
                Task { await self.reopenOutbound(peer) }
                return
            }
        }
        writers[peer]?.flushing = false
    }

    /// Opens a new outbound stream to `peer` after the last one failed, if it is still connected and a
    /// router peer (a disconnected peer is removed through the host's `.disconnected` event instead).
    func reopenOutbound(_ peer: PeerID) async {
        guard added.contains(peer), writers[peer] != nil, await host.existingConnection(to: peer) != nil else { return }
        await openOutbound(peer)
    }

    /// Bytes of queued RPCs coalesced into one write at most.
    static let maxBatchBytes = 256 * 1024
}
