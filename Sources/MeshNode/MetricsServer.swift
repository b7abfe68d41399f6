public import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Serves ``NodeMetrics`` at `GET /metrics` (Prometheus text format) on a
/// plain HTTP/1.1 listener; every other path is 404, every other method 405.
///
/// ```swift
/// let server = try await MetricsServer.start(metrics, host: "127.0.0.1", port: 9464)
/// // curl http://127.0.0.1:9464/metrics
/// try await server.stop()
/// ```
public final class MetricsServer: Sendable {
    let channel: any Channel
    /// The port it listens on (useful when started on port 0).
    public let port: Int

    init(channel: any Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    /// Starts listening on `host:port` (port 0 picks a free port).
    ///
    /// - Throws: ``NodeError/Code/invalidInput`` naming the address when it cannot listen.
    public static func start(_ metrics: NodeMetrics, host: String, port: Int) async throws -> MetricsServer {
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(MetricsHandler(metrics: metrics))
                    }
                }
                .bind(host: host, port: port).get()
        } catch {
            throw NodeError(.invalidInput, "cannot serve metrics on \(host):\(port) (\(error)); is the port in use? pick another with --metrics HOST:PORT")
        }
        return MetricsServer(channel: channel, port: channel.localAddress?.port ?? port)
    }

    /// Parses `HOST:PORT` (e.g. `127.0.0.1:9464`).
    public static func parse(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port),
              colon > text.startIndex else {
            throw NodeError(.invalidInput, "metrics address \(text): expected HOST:PORT, e.g. 127.0.0.1:9464")
        }
        return (String(text[..<colon]), port)
    }

    /// Stops listening.
    public func stop() async throws {
        try await channel.close()
    }
}

/// One connection: answers each request head once its end arrives.
final class MetricsHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let metrics: NodeMetrics
    var head: HTTPRequestHead?

    init(metrics: NodeMetrics) {
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            switch (head.method, path) {
            case (.GET, "/metrics"), (.HEAD, "/metrics"):
                respond(context, head, .ok, "text/plain; version=0.0.4; charset=utf-8", metrics.render())
            case (_, "/metrics"):
                respond(context, head, .methodNotAllowed, "text/plain", "use GET\n")
            default:
                respond(context, head, .notFound, "text/plain", "this node serves /metrics only\n")
            }
        }
    }

    func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus, _ type: String, _ body: String) {
        let bytes = ByteBuffer(string: body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: String(bytes.readableBytes))
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil) }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
    }
}
