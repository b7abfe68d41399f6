public import NIOCore
import NIOPosix

/// TCP on SwiftNIO: listeners on several addresses and dials with a timeout, all with TCP_NODELAY.
public final class TCPTransport: Sendable {
    /// A bound listener.
    public struct Listener: Sendable {
        /// The server channel.
        let channel: any Channel
        /// The bound address (with the real port when port 0 was asked for).
        public let address: Multiaddr

        /// Stops accepting connections.
        public func close() async {
            try? await channel.close()
        }
    }

    let group: any EventLoopGroup

    /// A transport on the shared NIO thread pool.
    public convenience init() {
        self.init(group: MultiThreadedEventLoopGroup.singleton)
    }

    init(group: any EventLoopGroup) {
        self.group = group
    }

    /// Listens on `address` (`/ip4|ip6/…/tcp/…`); calls `onConnection` for each accepted socket.
    public func listen(on address: Multiaddr, onConnection: @escaping @Sendable (TCPConnection) -> Void) async throws -> Listener {
        try await listen(on: address) { channel in
            try channel.pipeline.syncOperations.addHandler(InboundBridge())
            onConnection(TCPConnection(channel: channel))
        }
    }

    /// Listens on `address`; runs `initialize` on each accepted channel's event loop before the channel is active,
    /// to set up its pipeline. A throwing `initialize` refuses the connection.
    func listen(on address: Multiaddr, initialize: @escaping @Sendable (any Channel) throws -> Void) async throws -> Listener {
        guard let (host, port) = address.tcpHostPort else {
            throw Libp2pError(.invalidMultiaddr, "cannot listen on \(address); use /ip4/<ip>/tcp/<port>")
        }
        do {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelOption(.autoRead, value: false)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelOption(.recvAllocator, value: Self.receiveAllocator)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try initialize(channel) }
                }
                .bind(host: host, port: port).get()
            guard let local = channel.localAddress.flatMap(Multiaddr.init(socketAddress:)) else {
                throw Libp2pError(.transport, "listener on \(address) has no address")
            }
            return Listener(channel: channel, address: local)
        } catch let error as Libp2pError {
            throw error
        } catch {
            throw Libp2pError(.transport, "cannot listen on \(address); is the port in use?", cause: error)
        }
    }

    /// Connects to `address` (`/ip4|ip6|dns*/…/tcp/…[/p2p/…]`) within `timeout`.
    public func dial(_ address: Multiaddr, timeout: TimeAmount) async throws -> TCPConnection {
        let channel = try await dial(address, timeout: timeout, on: group.next()) { channel in
            try channel.pipeline.syncOperations.addHandler(InboundBridge())
        }
        return TCPConnection(channel: channel)
    }

    /// Connects to `address` from a channel on `eventLoop`, running `initialize` on it before it is active.
    func dial(_ address: Multiaddr, timeout: TimeAmount, on eventLoop: any EventLoop,
              initialize: @escaping @Sendable (any Channel) throws -> Void) async throws -> any Channel {
        guard let (host, port) = address.withoutPeerID.tcpHostPort else {
            throw Libp2pError(.invalidMultiaddr, "cannot dial \(address); use /ip4/<ip>/tcp/<port>/p2p/<peer>")
        }
        do {
            let bootstrap = ClientBootstrap(group: eventLoop)
                .connectTimeout(timeout)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelOption(.autoRead, value: false)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelOption(.recvAllocator, value: Self.receiveAllocator)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try initialize(channel) }
                }
            switch address.components.first {
            case .ip4?, .ip6?:
                // An IP literal needs no resolver (which would run getaddrinfo on another thread).
                return try await bootstrap.connect(to: SocketAddress(ipAddress: host, port: port)).get()
            default:
                return try await bootstrap.connect(host: host, port: port).get()
            }
        } catch {
            throw Libp2pError(.transport, "cannot connect to \(address)", cause: error)
        }
    }

    /// Socket reads size themselves to the traffic, from a few bytes for a handshake up to this much for bulk data.
    static let receiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 256 * 1024)
}
