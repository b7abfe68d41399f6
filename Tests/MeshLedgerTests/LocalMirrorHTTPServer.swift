import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
@testable import MeshLedger

/// A mirror node REST server on 127.0.0.1: real HTTP/1.1 over a socket, the
/// JSON pages and balances of a `LocalMirror`. Records every request path.
final class LocalMirrorHTTPServer: Sendable {
    let mirror: LocalMirror
    private let paths = Mutex<[String]>([])

    init(mirror: LocalMirror) {
        self.mirror = mirror
    }

    /// The request paths served so far, in order.
    var requests: [String] { paths.withLock { $0 } }

    /// Serves on an ephemeral port for the duration of `body`, which gets the base URL.
    func serve<R: Sendable>(_ body: (String) async throws -> R) async throws -> R {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        let port = server.channel.localAddress?.port ?? 0
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await server.executeThenClose { connections in
                    try await withThrowingDiscardingTaskGroup { handlers in
                        for try await connection in connections {
                            handlers.addTask { try? await self.handle(connection) }
                        }
                    }
                }
            }
            defer {
                server.channel.close(promise: nil)
                group.cancelAll()
            }
            return try await body("http://127.0.0.1:\(port)")
        }
    }

    private func handle(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var uri: String?
            for try await part in inbound {
                switch part {
                case .head(let head): uri = head.uri
                case .body: break
                case .end:
                    guard let uri else { return }
                    paths.withLock { $0.append(uri) }
                    let (status, body): (HTTPResponseStatus, [UInt8])
                    do {
                        (status, body) = (.ok, try await mirror.get(uri))
                    } catch let error as LedgerError where error.code == .notFound {
                        (status, body) = (.notFound, Array(#"{"_status":{"messages":[{"message":"Not found"}]}}"#.utf8))
                    } catch {
                        (status, body) = (.internalServerError, Array("\(error)".utf8))
                    }
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: "application/json")
                    headers.add(name: "Content-Length", value: "\(body.count)")
                    headers.add(name: "Connection", value: "close")
                    try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)))
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                    try await outbound.write(.end(nil))
                    return
                }
            }
        }
    }
}
