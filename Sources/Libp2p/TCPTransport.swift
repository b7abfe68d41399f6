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
                .childChannelInitializer { channel in
                    do {
                        try channel.pipeline.syncOperations.addHandler(InboundBridge())
                        onConnection(TCPConnection(channel: channel))
                        return channel.eventLoop.makeSucceededVoidFuture()
                    } catch {
                        return channel.eventLoop.makeFailedFuture(error)
                    }
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
        guard let (host, port) = address.withoutPeerID.tcpHostPort else {
            throw Libp2pError(.invalidMultiaddr, "cannot dial \(address); use /ip4/<ip>/tcp/<port>/p2p/<peer>")
        }
        do {
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelOption(.autoRead, value: false)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(InboundBridge()) }
                }
                .connect(host: host, port: port).get()
            return TCPConnection(channel: channel)
        } catch {
            throw Libp2pError(.transport, "cannot connect to \(address)", cause: error)
        }
    }
}
