import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small HTTP/1.1 client on SwiftNIO (NIOPosix + NIOHTTP1), with
/// keep-alive connections reused per endpoint, for ``S3BlobStore``,
/// ``PresignedTransfer`` and the tests.
///
/// Why not `async-http-client`: S3 needs only plain request/response with a
/// streamed body each way; swift-nio is already a dependency, while
/// async-http-client would add NIO-SSL, NIO-HTTP2 and friends (minutes of build)
/// for features we do not use. The price: no TLS here — point it at
/// `http://` endpoints (LocalStack, the node's own server) or put a TLS proxy in
/// front for Akave O3 / AWS. Request bodies stream from a file in 256 KiB
/// writes; response bodies stream into a file descriptor or are collected up
/// to a bound.
struct HTTPClient: Sendable {
    /// A finished response.
    struct Response: Sendable {
        var status: Int
        var headers: [(String, String)]
        var body: Data
        /// Whether the server keeps the connection open for another request.
        var keepAlive = false

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    /// A request body.
    enum Body: Sendable {
        case empty
        case data(Data)
        /// `length` bytes of the file at `path` from `offset`.
        case file(path: String, offset: Int64, length: Int64)

        var length: Int64 {
            switch self {
            case .empty: 0
            case .data(let data): Int64(data.count)
            case .file(_, _, let length): length
            }
        }
    }

    let group: any EventLoopGroup
    /// The longest a whole request may take.
    var timeout: TimeAmount = .seconds(120)
    /// The most bytes of a response body kept in memory.
    var maxCollectedBody = 64 << 20

    init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.group = group
    }

    /// Sends a request and waits for the response. With `downloadFD`, a 2xx
    /// body is written to that descriptor instead of collected.
    ///
    /// Connections are kept alive and reused (``HTTPConnectionPool``); a
    /// request on a reused connection that the server closed before any of
    /// the response came is sent once more on a new connection (nothing was
    /// written to `downloadFD` then).
    func execute(
        method: String, host: String, port: Int, target: String,
        headers: [(String, String)], body: Body = .empty, downloadFD: Int32? = nil
    ) async throws -> Response {
        let endpoint = HTTPConnectionPool.Endpoint(host: host, port: port)
        if let pooled = HTTPConnectionPool.shared.take(endpoint) {
            do {
                return try await send(method: method, host: host, port: port, target: target, headers: headers, body: body,
                                      downloadFD: downloadFD, on: pooled, endpoint: endpoint)
            } catch is HTTPConnectionPool.StaleConnection {
                // The server let the idle connection go: one more try on a new one.
            }
        }
        let connection = try await connect(host: host, port: port)
        do {
            return try await send(method: method, host: host, port: port, target: target, headers: headers, body: body,
                                  downloadFD: downloadFD, on: connection, endpoint: endpoint)
        } catch is HTTPConnectionPool.StaleConnection {
            throw StorageError(code: .http, message: "\(method) \(host):\(port) failed: the server closed the connection before answering")
        }
    }

    /// A new connection with the HTTP client handlers and a ``ResponseHandler``.
    func connect(host: String, port: Int) async throws -> HTTPConnectionPool.Connection {
        let eventLoop = group.next()
        do {
            let bootstrap = ClientBootstrap(group: eventLoop)
                .connectTimeout(.seconds(10))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(ResponseHandler())
                    }
                }
            // An IP literal needs no resolver and no Happy Eyeballs race.
            let channel: any Channel
            if let address = Self.literalAddress(host: host, port: port) {
                channel = try await bootstrap.connect(to: address).get()
            } else {
                channel = try await bootstrap.connect(host: host, port: port).get()
            }
            return HTTPConnectionPool.Connection(channel: channel)
        } catch {
            throw StorageError(code: .http, message: "cannot connect to \(host):\(port); is the S3 endpoint or node server running?", cause: error)
        }
    }

    /// One request on `connection`; afterwards the connection goes back to
    /// the pool when the server keeps it open, else it is closed.
    func send(
        method: String, host: String, port: Int, target: String, headers: [(String, String)], body: Body, downloadFD: Int32?,
        on connection: HTTPConnectionPool.Connection, endpoint: HTTPConnectionPool.Endpoint
    ) async throws -> Response {
        let channel = connection.channel
        let promise = channel.eventLoop.makePromise(of: Response.self)
        let limit = maxCollectedBody
        do {
            try await channel.eventLoop.submit {
                guard channel.isActive else { throw HTTPConnectionPool.StaleConnection() }
                try channel.pipeline.syncOperations.handler(type: ResponseHandler.self).begin(promise: promise, downloadFD: downloadFD, limit: limit)
            }.get()
        } catch {
            promise.fail(error)
            channel.close(promise: nil)
            throw HTTPConnectionPool.StaleConnection()
        }
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(StorageError(code: .http, message: "\(method) \(host):\(port) timed out; the endpoint is slow or stuck — retry later"))
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        do {
            var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: target)
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            if head.headers["host"].isEmpty { head.headers.add(name: "Host", value: port == 80 ? host : "\(host):\(port)") }
            head.headers.add(name: "Content-Length", value: String(body.length))
            try await channel.writeAndFlush(HTTPClientRequestPart.head(head))
            try await Self.send(body, on: channel)
            try await channel.writeAndFlush(HTTPClientRequestPart.end(nil))
        } catch {
            // The server may answer (e.g. 403) and close before reading the whole body; a closed connection
            // ends the response either way (channelInactive), and the timer bounds the wait.
            defer { channel.close(promise: nil) }
            do {
                return try await promise.futureResult.get()
            } catch let stale as HTTPConnectionPool.StaleConnection {
                throw stale
            } catch {}
            throw StorageError(code: .http, message: "sending \(method) \(target) to \(host):\(port) failed", cause: error)
        }
        do {
            let response = try await promise.futureResult.get()
            if response.keepAlive, channel.isActive {
                HTTPConnectionPool.shared.put(connection, for: endpoint)
            } else {
                channel.close(promise: nil)
            }
            return response
        } catch let error as HTTPConnectionPool.StaleConnection {
            channel.close(promise: nil)
            throw error
        } catch let error as StorageError {
            channel.close(promise: nil)
            throw error
        } catch {
            channel.close(promise: nil)
            throw StorageError(code: .http, message: "\(method) \(host):\(port) failed before a full response arrived", cause: error)
        }
    }

    /// `host` as a socket address when it is an IPv4 or IPv6 literal (`[::1]` too), else nil.
    static func literalAddress(host: String, port: Int) -> SocketAddress? {
        let literal = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return try? SocketAddress(ipAddress: literal, port: port)
    }

    static func send(_ body: Body, on channel: any Channel) async throws {
        switch body {
        case .empty:
            return
        case .data(let data):
            var offset = 0
            while offset < data.count {
                let end = min(offset + 256 * 1024, data.count)
                try await channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: data[offset..<end]))))
                offset = end
            }
        case .file(let path, let offset, let length):
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw StorageError(code: .notFound, message: "cannot open \(path) to upload it")
            }
            defer { try? handle.close() }
            try handle.seek(toOffset: UInt64(offset))
            var remaining = length
            while remaining > 0 {
                guard let piece = try handle.read(upToCount: Int(min(remaining, 256 * 1024))), !piece.isEmpty else {
                    throw StorageError(code: .io, message: "\(path) ended \(remaining) bytes early while uploading; was it modified during the upload?")
                }
                remaining -= Int64(piece.count)
                try await channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: piece))))
            }
        }
    }
}

/// Collects the response of the request under way on its connection (one
/// at a time); writes a 2xx body to `downloadFD` when given.
final class ResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    var promise: EventLoopPromise<HTTPClient.Response>?
    var downloadFD: Int32?
    var limit = 0
    var head: HTTPResponseHead?
    var body = Data()
    var failure: (any Error)?

    /// Readies the handler for the next response.
    func begin(promise: EventLoopPromise<HTTPClient.Response>, downloadFD: Int32?, limit: Int) {
        self.promise = promise
        self.downloadFD = downloadFD
        self.limit = limit
        head = nil
        body = Data()
        failure = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body(var buffer):
            guard failure == nil else { return }
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            if let fd = downloadFD, let head, (200..<300).contains(Int(head.status.code)) {
                do { try FileOps.writeAll(fd, bytes) } catch { failure = error }
            } else if body.count + bytes.count <= limit {
                body.append(contentsOf: bytes)
            } else {
                failure = StorageError(code: .http, message: "response body exceeds \(limit) bytes; download it to a file instead")
            }
        case .end:
            let promise = self.promise
            self.promise = nil
            if let failure {
                promise?.fail(failure)
                context.close(promise: nil)
            } else if let head {
                let headers = head.headers.map { ($0.name, $0.value) }
                promise?.succeed(.init(status: Int(head.status.code), headers: headers, body: body, keepAlive: head.isKeepAlive))
            }
            body = Data()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Nothing of the response yet: the server dropped an idle connection, the request can go again.
        if head == nil {
            promise?.fail(HTTPConnectionPool.StaleConnection())
        } else {
            promise?.fail(StorageError(code: .http, message: "the server closed the connection before the response ended"))
        }
        promise = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise?.fail(error)
        promise = nil
        context.close(promise: nil)
    }
}

/// Idle keep-alive connections by endpoint, shared by every ``HTTPClient``
/// in the process: a trainer's GET and PUT to the requester, and S3 calls,
/// reuse one connection instead of a TCP handshake and pipeline each.
final class HTTPConnectionPool: Sendable {
    struct Endpoint: Hashable, Sendable {
        var host: String
        var port: Int
    }

    struct Connection: Sendable {
        var channel: any Channel
    }

    /// A request whose connection closed before any of the response came.
    struct StaleConnection: Error {}

    static let shared = HTTPConnectionPool()
    /// Idle connections kept per endpoint.
    static let maxIdlePerEndpoint = 4
    /// How long a connection may sit idle before it is closed rather than reused (servers drop idle ones too).
    static let idleTimeout: TimeAmount = .seconds(15)

    private struct Idle {
        var connection: Connection
        var closer: Scheduled<Void>
    }

    private let idle = NIOLockedValueBox<[Endpoint: [Idle]]>([:])

    /// The most recently used idle connection to `endpoint` that is still open.
    func take(_ endpoint: Endpoint) -> Connection? {
        while let entry = idle.withLockedValue({ $0[endpoint]?.popLast() }) {
            entry.closer.cancel()
            if entry.connection.channel.isActive { return entry.connection }
        }
        return nil
    }

    /// Keeps `connection` for the next request to `endpoint` (or closes it when enough are idle).
    func put(_ connection: Connection, for endpoint: Endpoint) {
        let channel = connection.channel
        let closer = channel.eventLoop.scheduleTask(in: Self.idleTimeout) { [weak self] in
            self?.drop(channel, from: endpoint)
            channel.close(promise: nil)
        }
        let kept = idle.withLockedValue { idle -> Bool in
            guard idle[endpoint, default: []].count < Self.maxIdlePerEndpoint else { return false }
            idle[endpoint, default: []].append(Idle(connection: connection, closer: closer))
            return true
        }
        if !kept {
            closer.cancel()
            channel.close(promise: nil)
        }
    }

    /// Idle connections kept for `endpoint` (tests).
    func idleCount(_ endpoint: Endpoint) -> Int {
        idle.withLockedValue { $0[endpoint]?.count ?? 0 }
    }

    private func drop(_ channel: any Channel, from endpoint: Endpoint) {
        idle.withLockedValue { idle in idle[endpoint]?.removeAll { $0.connection.channel === channel } }
    }
}
