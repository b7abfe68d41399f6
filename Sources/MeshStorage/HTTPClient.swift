import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small HTTP/1.1 client on SwiftNIO (NIOPosix + NIOHTTP1), one connection
/// per request, for ``S3BlobStore`` and the tests.
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
    func execute(
        method: String, host: String, port: Int, target: String,
        headers: [(String, String)], body: Body = .empty, downloadFD: Int32? = nil
    ) async throws -> Response {
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: Response.self)
        let limit = maxCollectedBody
        let channel: any Channel
        do {
            let bootstrap = ClientBootstrap(group: eventLoop)
                .connectTimeout(.seconds(10))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(ResponseHandler(promise: promise, downloadFD: downloadFD, limit: limit))
                    }
                }
            // An IP literal needs no resolver and no Happy Eyeballs race.
            if let address = Self.literalAddress(host: host, port: port) {
                channel = try await bootstrap.connect(to: address).get()
            } else {
                channel = try await bootstrap.connect(host: host, port: port).get()
            }
        } catch {
            promise.fail(error)
            throw StorageError(code: .http, message: "cannot connect to \(host):\(port); is the S3 endpoint or node server running?", cause: error)
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
            head.headers.add(name: "Connection", value: "close")
            try await channel.writeAndFlush(HTTPClientRequestPart.head(head))
            try await Self.send(body, on: channel)
            try await channel.writeAndFlush(HTTPClientRequestPart.end(nil))
        } catch {
            // The server may answer (e.g. 403) and close before reading the whole body.
            if let response = try? await promise.futureResult.get() { return response }
            channel.close(promise: nil)
            throw StorageError(code: .http, message: "sending \(method) \(target) to \(host):\(port) failed", cause: error)
        }
        do {
            return try await promise.futureResult.get()
        } catch let error as StorageError {
            throw error
        } catch {
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

/// Collects one response; writes a 2xx body to `downloadFD` when given.
final class ResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    let promise: EventLoopPromise<HTTPClient.Response>
    let downloadFD: Int32?
    let limit: Int
    var head: HTTPResponseHead?
    var body = Data()
    var failure: (any Error)?

    init(promise: EventLoopPromise<HTTPClient.Response>, downloadFD: Int32?, limit: Int) {
        self.promise = promise
        self.downloadFD = downloadFD
        self.limit = limit
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
            if let failure {
                promise.fail(failure)
            } else if let head {
                let headers = head.headers.map { ($0.name, $0.value) }
                promise.succeed(.init(status: Int(head.status.code), headers: headers, body: body))
            }
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(StorageError(code: .http, message: "the server closed the connection before the response ended"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
