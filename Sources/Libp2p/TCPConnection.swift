public import NIOCore

/// Bridges a socket's inbound bytes to async readers, reading from the socket only while
/// fewer than ``highWaterMark`` bytes are buffered (backpressure).
final class InboundBridge: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    static let highWaterMark = 1 << 20

    private var buffered = ByteBuffer()
    private var pending: EventLoopPromise<ByteBuffer?>?
    private var finished = false
    private var failure: (any Error)?
    private var context: ChannelHandlerContext?
    private var paused = true

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelActive(context: ChannelHandlerContext) {
        paused = false
        context.read()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        buffered.append(adopting: &bytes)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        deliver()
        if buffered.readableBytes < Self.highWaterMark && !finished {
            context.read()
        } else {
            paused = true
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finished = true
        deliver()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if failure == nil { failure = error }
        finished = true
        deliver()
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            finished = true
            deliver()
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func deliver() {
        guard let promise = pending else { return }
        if buffered.readableBytes > 0 {
            pending = nil
            let out = buffered
            buffered = ByteBuffer()
            promise.succeed(out)
        } else if finished {
            pending = nil
            if let failure { promise.fail(failure) } else { promise.succeed(nil) }
        }
    }

    /// The next bytes (all buffered so far), or `nil` at end of stream. One reader at a time.
    func next(on eventLoop: any EventLoop) -> EventLoopFuture<ByteBuffer?> {
        if pending != nil {
            return eventLoop.makeFailedFuture(Libp2pError(.protocolViolation, "concurrent reads on one TCP connection"))
        }
        let promise = eventLoop.makePromise(of: ByteBuffer?.self)
        pending = promise
        deliver()
        if paused && !finished, let context {
            paused = false
            context.read()
        }
        return promise.futureResult
    }
}

/// One TCP connection: async reads with backpressure, ordered writes, close.
public final class TCPConnection: Sendable {
    /// The NIO channel.
    let channel: any Channel
    /// Our address on this connection.
    public let localAddress: Multiaddr?
    /// The remote address.
    public let remoteAddress: Multiaddr?

    init(channel: any Channel) {
        self.channel = channel
        localAddress = channel.localAddress.flatMap(Multiaddr.init(socketAddress:))
        remoteAddress = channel.remoteAddress.flatMap(Multiaddr.init(socketAddress:))
    }

    /// The next received bytes, or `nil` once the remote closed.
    ///
    /// Only for sockets from ``TCPTransport/listen(on:onConnection:)`` and ``TCPTransport/dial(_:timeout:)``;
    /// a host's connections are read by their pipeline instead.
    public func read() async throws -> ByteBuffer? {
        let channel = self.channel
        return try await channel.eventLoop.flatSubmit {
            do {
                let bridge = try channel.pipeline.syncOperations.handler(type: InboundBridge.self)
                return bridge.next(on: channel.eventLoop)
            } catch {
                return channel.eventLoop.makeFailedFuture(Libp2pError(.closed, "connection closed", cause: error))
            }
        }.get()
    }

    /// Queues `buffer` for sending; writes from one task are sent in call order.
    @discardableResult
    public func write(_ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        channel.writeAndFlush(buffer)
    }

    /// Closes the socket.
    public func close() {
        channel.close(promise: nil)
    }

    /// Completes when the socket is closed.
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }
}

extension Multiaddr {
    /// The `/ip4|ip6/…/tcp/…` form of a socket address.
    init?(socketAddress: SocketAddress) {
        guard let ip = socketAddress.ipAddress, let port = socketAddress.port else { return nil }
        switch socketAddress {
        case .v4:
            guard let b = IPAddressText.parseIPv4(ip) else { return nil }
            self.init(components: [.ip4(b), .tcp(UInt16(port))])
        case .v6:
            guard let b = IPAddressText.parseIPv6(ip) else { return nil }
            self.init(components: [.ip6(b), .tcp(UInt16(port))])
        default:
            return nil
        }
    }
}
