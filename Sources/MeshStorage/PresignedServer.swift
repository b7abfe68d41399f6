public import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The node's HTTP server for ``LocalBlobStore`` objects at presigned URLs
/// (path-style `/<bucket>/<key>`), checked with the same SigV4 as S3:
/// signature, key, method and expiry. GET, HEAD and PUT; anything unsigned,
/// expired, tampered with or used for another method or key gets 403.
///
/// File I/O happens on the connection's event loop, one block (1 MiB) at a
/// time with write back-pressure: fine for a node serving its peers, not a CDN.
///
/// ```swift
/// let server = try await PresignedServer.start(store: local, port: 8080)
/// // local.presignedURL(…) now works against http://127.0.0.1:8080
/// try await server.stop()
/// ```
public final class PresignedServer: Sendable {
    let channel: any Channel
    /// The port the server listens on (useful when started on port 0).
    public let port: Int

    init(channel: any Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    /// Starts serving `store` on `host:port` (port 0 picks a free port). The
    /// verifier accepts URLs signed with the store's own credentials and region.
    /// Uploads are stored with `uploads` durability before the 200 goes out;
    /// with `stageUploads`, uploads that fit are kept in the store's memory
    /// only (lost on exit: for objects read once, like trainers' results). A
    /// keep-alive connection quiet for `idleTimeout` is closed.
    public static func start(
        store: LocalBlobStore, host: String = "127.0.0.1", port: Int = 0, uploads: Durability = .synced,
        stageUploads: Bool = false, idleTimeout: Duration = .seconds(60), now: @escaping @Sendable () -> Date = { Date() }
    ) async throws -> PresignedServer {
        let group = MultiThreadedEventLoopGroup.singleton
        let idleNanoseconds = idleTimeout.components.seconds * 1_000_000_000 + idleTimeout.components.attoseconds / 1_000_000_000
        let verifier = SigV4Verifier(credentials: [store.credentials], region: store.region)
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // Keep-alive connections that go quiet are closed (clients reopen them when needed).
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: .nanoseconds(idleNanoseconds)))
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(PresignedRequestHandler(store: store, verifier: verifier, durability: uploads,
                                                                                          stageUploads: stageUploads, now: now))
                    }
                }
                .bind(host: host, port: port).get()
        } catch {
            throw StorageError(code: .io, message: "cannot listen on \(host):\(port); is the port in use?", cause: error)
        }
        return PresignedServer(channel: channel, port: channel.localAddress?.port ?? port)
    }

    /// Stops listening.
    public func stop() async throws {
        try await channel.close()
    }
}

/// One connection's request handling; lives on its event loop.
final class PresignedRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let store: LocalBlobStore
    let verifier: SigV4Verifier
    let durability: Durability
    /// Uploads kept in the store's memory only (when they fit; see ``LocalBlobStore/stage(key:data:contentType:)``).
    let stageUploads: Bool
    let now: @Sendable () -> Date

    enum State {
        case idle
        case refused
        case uploading(key: String, contentType: String?, path: String, fd: Int32)
        /// A PUT whose declared length is at most ``inMemoryUploadLimit``: its body is kept in memory.
        case collecting(key: String, contentType: String?, body: ByteBuffer, declared: Int)
        case done
    }

    /// Uploads up to this size (by `Content-Length`) are stored from memory: no temp file to write and read back.
    static let inMemoryUploadLimit = 16 << 20
    var state = State.idle

    init(store: LocalBlobStore, verifier: SigV4Verifier, durability: Durability, stageUploads: Bool, now: @escaping @Sendable () -> Date) {
        self.store = store
        self.verifier = verifier
        self.durability = durability
        self.stageUploads = stageUploads
        self.now = now
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            handle(head, context: context)
        case .body(var buffer):
            if case .collecting(let key, let contentType, var body, let declared) = state {
                state = .done
                guard body.readableBytes + buffer.readableBytes <= declared else {
                    return respond(context, status: .badRequest, code: "IncompleteBody", message: "the body is longer than its Content-Length \(declared)")
                }
                body.writeBuffer(&buffer)
                state = .collecting(key: key, contentType: contentType, body: body, declared: declared)
                return
            }
            guard case .uploading(_, _, let path, let fd) = state else { return }
            do {
                try FileOps.writeAll(fd, buffer.readBytes(length: buffer.readableBytes) ?? [])
            } catch {
                abortUpload()
                respond(context, status: .internalServerError, code: "InternalError", message: "writing the upload failed: \(error)")
                _ = path
            }
        case .end:
            if case .collecting(let key, let contentType, var body, let declared) = state {
                state = .done
                guard body.readableBytes == declared else {
                    return respond(context, status: .badRequest, code: "IncompleteBody", message: "the body has \(body.readableBytes) bytes, its Content-Length says \(declared)")
                }
                return respondStored(context) {
                    let data = Data(body.readableBytesView)
                    let staged = stageUploads ? try store.stage(key: key, data: data, contentType: contentType) : nil
                    return try staged ?? store.store(key: key, data: data, contentType: contentType, durability: durability)
                }
            }
            guard case .uploading(let key, let contentType, let path, let fd) = state else { return }
            state = .done
            // The temp file is only read back into blocks, which are synced themselves when that is asked.
            close(fd)
            defer { unlink(path) }
            respondStored(context) { try store.importFile(key: key, path: path, contentType: contentType, durability: durability) }
        }
    }

    /// Stores an upload and answers 200 with its SHA-256 (or 500 naming what failed).
    func respondStored(_ context: ChannelHandlerContext, _ store: () throws -> BlobInfo) {
        do {
            let info = try store()
            var headers = HTTPHeaders()
            headers.add(name: "ETag", value: "\"\(info.sha256 ?? "")\"")
            headers.add(name: "x-amz-meta-sha256", value: info.sha256 ?? "")
            respond(context, status: .ok, headers: headers, body: nil)
        } catch {
            respond(context, status: .internalServerError, code: "InternalError", message: "storing the upload failed: \(error)")
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        abortUpload()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func abortUpload() {
        if case .uploading(_, _, let path, let fd) = state {
            close(fd)
            unlink(path)
        }
        state = .done
    }

    func handle(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let (path, query) = SigV4Verifier.splitTarget(head.uri)
        let prefix = "/\(store.bucket)/"
        guard path.hasPrefix(prefix), path.count > prefix.count else {
            state = .refused
            return respond(context, status: .notFound, code: "NoSuchBucket", message: "this node serves only /\(store.bucket)/<key>")
        }
        let key = String(path.dropFirst(prefix.count))
        let headers = head.headers.map { ($0.name, $0.value) }
        do {
            try verifier.verifyPresigned(method: head.method.rawValue, host: head.headers["host"].first ?? "",
                                         path: path, query: query, headers: headers, now: now())
        } catch {
            state = .refused
            return respond(context, status: .forbidden, code: "AccessDenied", message: (error as? StorageError)?.message ?? "\(error)")
        }
        switch head.method {
        case .GET, .HEAD:
            state = .done
            serve(key: key, bodyToo: head.method == .GET, context: context)
        case .PUT:
            if let declared = head.headers["content-length"].first.flatMap({ Int($0) }), (0...Self.inMemoryUploadLimit).contains(declared) {
                state = .collecting(key: key, contentType: head.headers["content-type"].first,
                                    body: context.channel.allocator.buffer(capacity: declared), declared: declared)
                return
            }
            do {
                let (temp, fd) = try FileOps.openTemp(in: store.blocks.tempPath)
                state = .uploading(key: key, contentType: head.headers["content-type"].first, path: temp, fd: fd)
            } catch {
                state = .refused
                respond(context, status: .internalServerError, code: "InternalError", message: "\(error)")
            }
        default:
            state = .refused
            respond(context, status: .methodNotAllowed, code: "MethodNotAllowed", message: "use GET, HEAD or PUT")
        }
    }

    func serve(key: String, bodyToo: Bool, context: ChannelHandlerContext) {
        if let (data, info) = store.staging.get(key) {
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: info.contentType ?? "application/octet-stream")
            headers.add(name: "ETag", value: "\"\(info.sha256 ?? "")\"")
            headers.add(name: "x-amz-meta-sha256", value: info.sha256 ?? "")
            if bodyToo { return respond(context, status: .ok, headers: headers, body: data) }
            headers.add(name: "Content-Length", value: String(data.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        let record: LocalBlobStore.Record
        let manifest: Manifest
        do {
            guard let found = try store.record(key) else {
                return respond(context, status: .notFound, code: "NoSuchKey", message: "no object '\(key)'")
            }
            record = found
            manifest = try store.blocks.manifest(for: record.root)
        } catch {
            return respond(context, status: .internalServerError, code: "InternalError", message: "\(error)")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Length", value: String(record.size))
        headers.add(name: "Content-Type", value: record.contentType ?? "application/octet-stream")
        headers.add(name: "ETag", value: "\"\(record.sha256)\"")
        headers.add(name: "x-amz-meta-sha256", value: record.sha256)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        guard bodyToo else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        writeBlocks(manifest.blocks[...], context: context)
    }

    /// Writes blocks one at a time, each after the previous one is flushed.
    func writeBlocks(_ remaining: ArraySlice<Manifest.Entry>, context: ChannelHandlerContext) {
        guard let entry = remaining.first else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        let block: Data
        do {
            block = try store.blocks.get(entry.cid)
        } catch {
            // Headers are out: all we can do is cut the connection short.
            context.close(promise: nil)
            return
        }
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: block)))))
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success: self.writeBlocks(remaining.dropFirst(), context: context)
                case .failure: context.close(promise: nil)
                }
            }
    }

    func respond(_ context: ChannelHandlerContext, status: HTTPResponseStatus, code: String, message: String) {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>\(code)</Code><Message>\(XMLScan.escape(message))</Message></Error>"
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/xml")
        respond(context, status: status, headers: headers, body: Data(xml.utf8))
    }

    func respond(_ context: ChannelHandlerContext, status: HTTPResponseStatus, headers: HTTPHeaders, body: Data?) {
        var headers = headers
        headers.replaceOrAdd(name: "Content-Length", value: String(body?.count ?? 0))
        let refused = !(200..<300).contains(Int(status.code))
        if refused { headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if let body { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil) }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if refused { done.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
    }
}
