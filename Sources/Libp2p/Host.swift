public import NIOCore
public import Logging
import Synchronization

/// A libp2p host: an identity, TCP listeners, a peerstore, one connection per peer, and protocol handlers.
///
/// Identify (`/ipfs/id/1.0.0`, `/ipfs/id/push/1.0.0`) and ping (`/ipfs/ping/1.0.0`) are served by default.
///
/// ```swift
/// let host = Host(identity: .generate())
/// try await host.listen(on: [Multiaddr("/ip4/127.0.0.1/tcp/0")])
/// await host.setHandler("/echo/1.0.0") { stream in
///     while let chunk = try? await stream.read() { try? await stream.write(chunk) }
///     await stream.closeWrite()
/// }
/// let peer = try await other.connect(to: host.fullAddresses[0])
/// let stream = try await other.newStream(to: peer, protocols: ["/echo/1.0.0"])
/// ```
public actor Host {
    /// Tunables of a host.
    public struct Configuration: Sendable {
        /// Muxers in order of preference.
        public var muxers: [String] = [ConnectionUpgrader.yamuxProtocol, ConnectionUpgrader.mplexProtocol]
        /// Offer `muxers` inside the Noise handshake (libp2p's inlined muxer negotiation), so that with a
        /// peer that does the same a connection is ready one round trip sooner; peers that offer none
        /// still get multistream-select after the handshake.
        public var inlineMuxerNegotiation = true
        /// Limit on a TCP connect.
        public var dialTimeout: Duration = .seconds(10)
        /// Limit on the security and muxer handshakes of a connection.
        public var upgradeTimeout: Duration = .seconds(10)
        /// Limit on negotiating a stream's protocol.
        public var negotiationTimeout: Duration = .seconds(10)
        /// Most connections at once; further inbound connections are refused.
        public var maxConnections = 512
        /// Most streams per connection.
        public var maxStreamsPerConnection = 4096
        /// Connections with no streams for this long are closed (`nil`: never).
        public var idleTimeout: Duration? = nil
        /// yamux keep-alive: ping this often (`nil`: never) ...
        public var keepAliveInterval: Duration? = .seconds(30)
        /// ... and close the connection if a ping is unanswered for this long.
        public var keepAliveTimeout: Duration = .seconds(15)
        /// Agent version sent in identify.
        public var agentVersion = "meshfl/0.1.0"
        /// Protocol version sent in identify.
        public var protocolVersion = "ipfs/0.1.0"
        /// Whether to run identify on every new connection.
        public var identifyOnConnect = true
        /// The defaults.
        public init() {}
    }

    /// Handles one inbound stream whose protocol has been negotiated.
    public typealias StreamHandler = @Sendable (P2PStream) async -> Void

    /// This host's identity key.
    public nonisolated let identity: PrivateKey
    /// This host's peer id.
    public nonisolated let peerID: PeerID
    /// Known peers.
    public nonisolated let peerstore = Peerstore()
    /// The configuration.
    public nonisolated let configuration: Configuration
    nonisolated let logger: Logger

    let transport: TCPTransport
    private var listeners: [TCPTransport.Listener] = []
    private var connections: [PeerID: Connection] = [:]
    private var pendingDials: [PeerID: Task<Connection, any Error>] = [:]
    /// Application protocol handlers; read off the actor by connections negotiating inbound streams.
    private nonisolated let handlers = Mutex<[String: StreamHandler]>([:])
    private var subscribers: [Int: AsyncStream<HostEvent>.Continuation] = [:]
    private var nextSubscriber = 0
    private var isShutDown = false
    /// The Noise static key and its signed payload, shared by every handshake of this host.
    nonisolated let noiseCredentials: NoiseCredentials
    /// Noise payload signatures already verified (reconnecting peers are not verified again).
    nonisolated let knownSignatures = VerifiedSignatures()
    /// Connections open or being upgraded, for refusing inbound sockets beyond ``Configuration/maxConnections``.
    nonisolated let inboundSlots = ConnectionSlots()
    private var idleTask: Task<Void, Never>?
    /// The last signed peer record sent in identify, reused while the addresses it names stay the same.
    var signedPeerRecord: (addresses: [Multiaddr], envelope: [UInt8])?

    /// A host with `identity`; call ``listen(on:)`` to accept connections.
    public init(identity: PrivateKey, configuration: Configuration = .init(), logger: Logger = Logger(label: "meshfl.libp2p")) {
        self.identity = identity
        self.peerID = identity.peerID
        self.noiseCredentials = NoiseCredentials(identity: identity)
        self.configuration = configuration
        var l = logger
        l[metadataKey: "host"] = "\(identity.peerID.description.suffix(8))"
        self.logger = l
        self.transport = TCPTransport()
    }

    // MARK: Listening

    /// Listens on each address (`/ip4|ip6/…/tcp/<port>`, port 0 picks a free one).
    public func listen(on addresses: [Multiaddr]) async throws {
        for address in addresses {
            let listener = try await transport.listen(on: address) { [weak self, configuration, inboundSlots] channel in
                guard let self else { throw Libp2pError(.closed, "host is shut down") }
                // Refused here, before the handshake starts, so a refused dialer never sees an upgraded connection.
                guard inboundSlots.acquire(limit: configuration.maxConnections) else {
                    self.logger.warning("refusing connection from \(channel.remoteAddress.map(String.init(describing:)) ?? "?"): connection limit \(configuration.maxConnections) reached")
                    throw Libp2pError(.limitReached, "connection limit \(configuration.maxConnections) reached")
                }
                let upgraded = channel.eventLoop.makePromise(of: ConnectionUpgrader.Result.self)
                let machine = self.upgradeMachine(isDialer: false, expectedPeer: nil)
                do {
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectionHandler(upgrade: machine, timeout: Self.timeAmount(configuration.upgradeTimeout), upgraded: upgraded))
                } catch {
                    inboundSlots.release()
                    upgraded.fail(error)
                    throw error
                }
                let tcp = TCPConnection(channel: channel)
                Task { await self.acceptInbound(tcp, upgraded: upgraded.futureResult) }
            }
            listeners.append(listener)
            logger.info("listening on \(listener.address)/p2p/\(peerID)")
        }
        startIdleSweepIfNeeded()
    }

    /// The bound listen addresses (real ports), without `/p2p/`.
    public var listenAddresses: [Multiaddr] { listeners.map(\.address) }

    /// The listen addresses with `/p2p/<our id>` appended, ready to give to other peers.
    public var fullAddresses: [Multiaddr] { listeners.map { $0.address.appending(.p2p(peerID)) } }

    // MARK: Handlers

    /// Serves `protocolID` with `handler` (replacing any previous handler) and tells connected peers.
    public func setHandler(_ protocolID: String, _ handler: @escaping StreamHandler) {
        handlers.withLock { $0[protocolID] = handler }
        pushIdentifyToAll()
    }

    /// Stops serving `protocolID`.
    public func removeHandler(_ protocolID: String) {
        handlers.withLock { $0[protocolID] = nil }
        pushIdentifyToAll()
    }

    /// Protocols every host serves.
    static let builtinHandlers: [String: @Sendable (Host, P2PStream) async -> Void] = [
        Identify.protocolID: { host, stream in await host.serveIdentify(stream) },
        Identify.pushProtocolID: { host, stream in await host.receiveIdentifyPush(stream) },
        Ping.protocolID: { _, stream in await Ping.serve(stream) },
    ]

    /// The protocols served, sorted.
    public nonisolated var protocols: [String] {
        handlers.withLock { Set($0.keys) }.union(Self.builtinHandlers.keys).sorted()
    }

    // MARK: Events

    /// A stream of connection events from now on.
    public func events() -> AsyncStream<HostEvent> {
        let (stream, continuation) = AsyncStream<HostEvent>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let key = nextSubscriber
        nextSubscriber += 1
        subscribers[key] = continuation
        continuation.onTermination = { [weak self] _ in Task { await self?.unsubscribe(key) } }
        return stream
    }

    private func unsubscribe(_ key: Int) { subscribers[key] = nil }

    func emit(_ event: HostEvent) {
        for c in subscribers.values { c.yield(event) }
    }

    // MARK: Connections

    /// Peers with an open connection.
    public var connectedPeers: [PeerID] { Array(connections.keys) }

    /// The open connection to `peer`, if any.
    public func existingConnection(to peer: PeerID) -> Connection? { connections[peer] }

    /// Dials `address` (which must end in `/p2p/<peer>`) unless already connected; returns the peer id.
    @discardableResult
    public func connect(to address: Multiaddr) async throws -> PeerID {
        guard let peer = address.peerID else {
            throw Libp2pError(.invalidMultiaddr, "\(address) has no /p2p/<peer id>; the remote identity must be known to dial it")
        }
        peerstore.addAddresses([address], for: peer)
        _ = try await connection(to: peer, addresses: [address.withoutPeerID])
        return peer
    }

    /// An open connection to `peer`, dialling its known addresses if needed.
    /// Concurrent calls for the same peer share one dial.
    public func connection(to peer: PeerID) async throws -> Connection {
        try await connection(to: peer, addresses: peerstore.record(for: peer).addresses)
    }

    private func connection(to peer: PeerID, addresses: [Multiaddr]) async throws -> Connection {
        guard !isShutDown else { throw Libp2pError(.closed, "host is shut down") }
        guard peer != peerID else { throw Libp2pError(.invalidPeerID, "cannot dial ourselves") }
        if let existing = connections[peer], !existing.isClosed { return existing }
        if let pending = pendingDials[peer] { return try await pending.value }
        guard !addresses.isEmpty else {
            throw Libp2pError(.invalidMultiaddr, "no known address for \(peer); connect with a full /ip4/…/tcp/…/p2p/… address first")
        }
        let task = Task { try await self.dial(peer, addresses: addresses) }
        pendingDials[peer] = task
        defer { pendingDials[peer] = nil }
        return try await task.value
    }

    private func dial(_ peer: PeerID, addresses: [Multiaddr]) async throws -> Connection {
        var lastError: (any Error)?
        for address in addresses.prefix(8) {
            do {
                let (tcp, upgraded) = try await dialUpgraded(address, peer: peer)
                return try await register(tcp, try await upgraded.get(), direction: .outbound)
            } catch {
                logger.debug("dial \(address)/p2p/\(peer) failed: \(error)")
                lastError = error
                if let e = error as? Libp2pError, e.code == .peerIDMismatch { throw e }
            }
        }
        throw lastError ?? Libp2pError(.transport, "no address to dial \(peer)")
    }

    /// Connects to `address` with the upgrade running in the channel's pipeline from the moment the socket is up.
    private nonisolated func dialUpgraded(_ address: Multiaddr, peer: PeerID) async throws
        -> (TCPConnection, EventLoopFuture<ConnectionUpgrader.Result>) {
        let eventLoop = transport.group.next()
        let upgraded = eventLoop.makePromise(of: ConnectionUpgrader.Result.self)
        let machine = upgradeMachine(isDialer: true, expectedPeer: peer)
        let handshakeTimeout = Self.timeAmount(configuration.upgradeTimeout)
        do {
            let channel = try await transport.dial(address, timeout: Self.timeAmount(configuration.dialTimeout), on: eventLoop) { channel in
                try channel.pipeline.syncOperations.addHandler(ConnectionHandler(upgrade: machine, timeout: handshakeTimeout, upgraded: upgraded))
            }
            return (TCPConnection(channel: channel), upgraded.futureResult)
        } catch {
            upgraded.fail(error)
            throw error
        }
    }

    private nonisolated func upgradeMachine(isDialer: Bool, expectedPeer: PeerID?) -> ConnectionUpgradeStateMachine {
        let handshake = NoiseHandshake(role: isDialer ? .initiator : .responder, credentials: noiseCredentials,
                                       expectedPeer: expectedPeer, knownSignatures: knownSignatures)
        return ConnectionUpgradeStateMachine(isDialer: isDialer, handshake: handshake, muxers: configuration.muxers,
                                             inlineMuxerNegotiation: configuration.inlineMuxerNegotiation)
    }

    private func acceptInbound(_ tcp: TCPConnection, upgraded: EventLoopFuture<ConnectionUpgrader.Result>) async {
        defer { inboundSlots.release() }
        guard !isShutDown else { tcp.close(); return }
        do {
            _ = try await register(tcp, try await upgraded.get(), direction: .inbound)
        } catch {
            tcp.close()
            logger.warning("closed inbound connection from \(tcp.remoteAddress.map(String.init(describing:)) ?? "?"): \(error)")
        }
    }

    private func register(_ tcp: TCPConnection, _ upgraded: ConnectionUpgrader.Result, direction: Connection.Direction) async throws -> Connection {
        let peer = upgraded.remotePeer
        let muxer: any StreamMuxerStateMachine
        if upgraded.muxerProtocol == ConnectionUpgrader.yamuxProtocol {
            var config = YamuxStateMachine.Configuration()
            config.maxStreams = configuration.maxStreamsPerConnection
            // One yamux frame per Noise frame: the receiver never carries a partial frame over to the next one.
            config.maxFramePayload = NoiseTransportWriter.maxPlaintext - YamuxFrame.headerLength
            muxer = YamuxStateMachine(isClient: direction == .outbound, configuration: config)
        } else {
            muxer = MplexStateMachine(maxStreams: configuration.maxStreamsPerConnection)
        }
        let connection = Connection(tcp: tcp, upgraded: upgraded, direction: direction, muxer: muxer, logger: logger)
        guard !isShutDown else {
            tcp.close()
            throw Libp2pError(.closed, "host is shut down")
        }
        var replaced: Connection?
        if let existing = connections[peer], !existing.isClosed {
            // Simultaneous connections: both sides keep the one dialled by the smaller peer id.
            let existingDialer = existing.direction == .outbound ? peerID : peer
            let newDialer = direction == .outbound ? peerID : peer
            if existingDialer != newDialer, existingDialer < newDialer {
                logger.debug("dropping duplicate connection to \(peer)")
                tcp.close()
                return existing
            }
            replaced = existing
        }
        connections[peer] = connection
        inboundSlots.setOpen(connections.count)
        peerstore.setPublicKey(upgraded.remoteKey, for: peer)
        if direction == .outbound, let addr = tcp.remoteAddress { peerstore.addAddresses([addr], for: peer) }
        // Announced before the first await: a close that races the start below is then always reported after it
        // (the close handler's `connectionClosed` may run on this actor while `start` is awaited).
        if replaced == nil { emit(.connected(peer, tcp.remoteAddress)) }
        await connection.start(
            protocols: { [weak self] in self?.protocols ?? [] },
            negotiationTimeout: configuration.negotiationTimeout,
            keepAlive: configuration.keepAliveInterval.map { (interval: $0, timeout: configuration.keepAliveTimeout) },
            onStream: { [weak self] stream in self?.dispatch(stream) },
            onClose: { [weak self] _ in
                guard let self else { return }
                Task { await self.connectionClosed(connection) }
            }
        )
        if let replaced { await replaced.close() }
        logger.info("connected to \(peer) (\(direction), \(upgraded.muxerProtocol)\(upgraded.muxerAgreedInHandshake ? " agreed in the handshake" : ""))")
        if configuration.identifyOnConnect {
            Task { await self.identifyOnConnect(peer, over: connection) }
        }
        return connection
    }

    private func connectionClosed(_ connection: Connection) {
        let peer = connection.remotePeer
        guard connections[peer] === connection else { return }
        connections[peer] = nil
        inboundSlots.setOpen(connections.count)
        logger.info("disconnected from \(peer)")
        emit(.disconnected(peer))
    }

    /// Closes the connection to `peer`.
    public func disconnect(_ peer: PeerID) async {
        if let c = connections[peer] { await c.close() }
    }

    private func startIdleSweepIfNeeded() {
        guard idleTask == nil, let idle = configuration.idleTimeout else { return }
        idleTask = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: min(idle, .seconds(5)))
                await self?.closeIdle(idle)
            }
        }
    }

    /// A `Duration` as NIO's `TimeAmount` (nanosecond precision).
    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    private func closeIdle(_ idle: Duration) async {
        let now = NIODeadline.now()
        for (_, c) in connections {
            let (count, last) = (await c.streamCount, await c.lastActivity)
            if count == 0, now - last > Self.timeAmount(idle) {
                logger.debug("closing idle connection to \(c.remotePeer)")
                await c.close()
            }
        }
    }

    // MARK: Streams

    /// Opens a stream to `peer` and negotiates the first of `protocols` it supports.
    ///
    /// - Throws: ``Libp2pError/Code/protocolNegotiationFailed`` if it supports none.
    public nonisolated func newStream(to peer: PeerID, protocols: [String]) async throws -> P2PStream {
        let connection = try await connection(to: peer)
        return try await connection.openStream(negotiating: protocols, timeout: configuration.negotiationTimeout)
    }

    /// Opens a stream to `peer` proposing `protocolID` without waiting for the answer
    /// (see ``Connection/openStream(proposing:timeout:)``): for request/response protocols, whose
    /// first read is the answer's check.
    nonisolated func newStream(to peer: PeerID, proposing protocolID: String) async throws -> P2PStream {
        let connection = try await connection(to: peer)
        return try await connection.openStream(proposing: protocolID, timeout: configuration.negotiationTimeout)
    }

    /// Connects to `address` if needed and opens a stream.
    public nonisolated func newStream(to address: Multiaddr, protocols: [String]) async throws -> P2PStream {
        let peer = try await connect(to: address)
        return try await newStream(to: peer, protocols: protocols)
    }

    /// Runs the handler of an inbound stream whose protocol its connection negotiated.
    private nonisolated func dispatch(_ stream: P2PStream) {
        guard let protocolID = stream.protocolID else { return }
        if let handler = handlers.withLock({ $0[protocolID] }) {
            Task { await handler(stream) }
        } else if let builtin = Self.builtinHandlers[protocolID] {
            Task { await builtin(self, stream) }
        } else {
            // The handler was removed while the stream was being negotiated.
            Task { await stream.reset() }
        }
    }

    // MARK: Shutdown

    /// Stops listening and closes every connection.
    public func shutdown() async {
        guard !isShutDown else { return }
        isShutDown = true
        idleTask?.cancel()
        for l in listeners { await l.close() }
        listeners = []
        for task in pendingDials.values { task.cancel() }
        let all = Array(connections.values)
        for c in all { await c.close() }
        connections = [:]
        inboundSlots.setOpen(0)
        for c in subscribers.values { c.finish() }
        subscribers = [:]
        logger.info("host shut down")
    }
}
