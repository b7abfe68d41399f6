public import NIOCore
public import Logging

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
    private var handlers: [String: StreamHandler] = [:]
    private var subscribers: [Int: AsyncStream<HostEvent>.Continuation] = [:]
    private var nextSubscriber = 0
    private var isShutDown = false
    private var pendingInbound = 0
    private var idleTask: Task<Void, Never>?
    /// The last signed peer record sent in identify, reused while the addresses it names stay the same.
    var signedPeerRecord: (addresses: [Multiaddr], envelope: [UInt8])?

    /// A host with `identity`; call ``listen(on:)`` to accept connections.
    public init(identity: PrivateKey, configuration: Configuration = .init(), logger: Logger = Logger(label: "meshfl.libp2p")) {
        self.identity = identity
        self.peerID = identity.peerID
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
            let listener = try await transport.listen(on: address) { [weak self] tcp in
                guard let self else { tcp.close(); return }
                Task { await self.acceptInbound(tcp) }
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
        handlers[protocolID] = handler
        pushIdentifyToAll()
    }

    /// Stops serving `protocolID`.
    public func removeHandler(_ protocolID: String) {
        handlers[protocolID] = nil
        pushIdentifyToAll()
    }

    /// Protocols every host serves.
    static let builtinHandlers: [String: @Sendable (Host, P2PStream) async -> Void] = [
        Identify.protocolID: { host, stream in await host.serveIdentify(stream) },
        Identify.pushProtocolID: { host, stream in await host.receiveIdentifyPush(stream) },
        Ping.protocolID: { _, stream in await Ping.serve(stream) },
    ]

    /// The protocols served, sorted.
    public var protocols: [String] { Set(handlers.keys).union(Self.builtinHandlers.keys).sorted() }

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
        if let existing = connections[peer], await !existing.isClosed { return existing }
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
                let tcp = try await transport.dial(address, timeout: Self.timeAmount(configuration.dialTimeout))
                let upgraded = try await upgrade(tcp, isDialer: true, expectedPeer: peer)
                return try await register(tcp, upgraded, direction: .outbound)
            } catch {
                logger.debug("dial \(address)/p2p/\(peer) failed: \(error)")
                lastError = error
                if let e = error as? Libp2pError, e.code == .peerIDMismatch { throw e }
            }
        }
        throw lastError ?? Libp2pError(.transport, "no address to dial \(peer)")
    }

    private func upgrade(_ tcp: TCPConnection, isDialer: Bool, expectedPeer: PeerID?) async throws -> ConnectionUpgrader.Result {
        let upgrader = ConnectionUpgrader(identity: identity, muxers: configuration.muxers)
        do {
            return try await withTimeout(configuration.upgradeTimeout, "connection handshake", onTimeout: { tcp.close() }) {
                try await upgrader.upgrade(tcp, isDialer: isDialer, expectedPeer: expectedPeer)
            }
        } catch {
            tcp.close()
            throw error
        }
    }

    private func acceptInbound(_ tcp: TCPConnection) async {
        guard !isShutDown else { tcp.close(); return }
        guard connections.count + pendingInbound < configuration.maxConnections else {
            logger.warning("refusing connection from \(tcp.remoteAddress.map(String.init(describing:)) ?? "?"): connection limit \(configuration.maxConnections) reached")
            tcp.close()
            return
        }
        pendingInbound += 1
        defer { pendingInbound -= 1 }
        do {
            let upgraded = try await upgrade(tcp, isDialer: false, expectedPeer: nil)
            _ = try await register(tcp, upgraded, direction: .inbound)
        } catch {
            logger.warning("closed inbound connection from \(tcp.remoteAddress.map(String.init(describing:)) ?? "?"): \(error)")
        }
    }

    private func register(_ tcp: TCPConnection, _ upgraded: ConnectionUpgrader.Result, direction: Connection.Direction) async throws -> Connection {
        let peer = upgraded.remotePeer
        let muxer: any StreamMuxerStateMachine
        if upgraded.muxerProtocol == ConnectionUpgrader.yamuxProtocol {
            var config = YamuxStateMachine.Configuration()
            config.maxStreams = configuration.maxStreamsPerConnection
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
        if let existing = connections[peer], await !existing.isClosed {
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
        peerstore.setPublicKey(upgraded.remoteKey, for: peer)
        if direction == .outbound, let addr = tcp.remoteAddress { peerstore.addAddresses([addr], for: peer) }
        await connection.start(
            reader: upgraded.reader,
            onStream: { [weak self] stream in
                guard let self else { return }
                Task { await self.handleInboundStream(stream) }
            },
            onClose: { [weak self] _ in
                guard let self else { return }
                Task { await self.connectionClosed(connection) }
            }
        )
        if let interval = configuration.keepAliveInterval {
            await connection.startKeepAlive(interval: interval, timeout: configuration.keepAliveTimeout)
        }
        if let replaced { await replaced.close() } else { emit(.connected(peer, tcp.remoteAddress)) }
        logger.info("connected to \(peer) (\(direction), \(upgraded.muxerProtocol))")
        if configuration.identifyOnConnect {
            Task { await self.identify(peer, over: connection) }
        }
        return connection
    }

    private func connectionClosed(_ connection: Connection) {
        let peer = connection.remotePeer
        guard connections[peer] === connection else { return }
        connections[peer] = nil
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
    public func newStream(to peer: PeerID, protocols: [String]) async throws -> P2PStream {
        let connection = try await connection(to: peer)
        let raw = try await connection.openRawStream()
        do {
            return try await withTimeout(configuration.negotiationTimeout, "protocol negotiation",
                                         onTimeout: { Task { await raw.reset() } }) {
                try await raw.negotiate(dialerProposing: protocols)
            }
        } catch {
            await raw.reset()
            throw error
        }
    }

    /// Connects to `address` if needed and opens a stream.
    public func newStream(to address: Multiaddr, protocols: [String]) async throws -> P2PStream {
        let peer = try await connect(to: address)
        return try await newStream(to: peer, protocols: protocols)
    }

    private func handleInboundStream(_ stream: P2PStream) async {
        let supported = protocols
        let negotiated: P2PStream
        do {
            negotiated = try await withTimeout(configuration.negotiationTimeout, "protocol negotiation",
                                               onTimeout: { Task { await stream.reset() } }) {
                try await stream.negotiate(listenerSupporting: supported)
            }
        } catch {
            logger.debug("inbound stream from \(stream.remotePeer) failed negotiation: \(error)")
            await stream.reset()
            return
        }
        guard let protocolID = negotiated.protocolID else { return }
        if let handler = handlers[protocolID] {
            await handler(negotiated)
        } else if let builtin = Self.builtinHandlers[protocolID] {
            await builtin(self, negotiated)
        } else {
            await negotiated.reset()
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
        for c in subscribers.values { c.finish() }
        subscribers = [:]
        logger.info("host shut down")
    }
}
