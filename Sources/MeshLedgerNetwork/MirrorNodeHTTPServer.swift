public import MeshLedger
internal import NIOCore
internal import NIOPosix
internal import NIOHTTP1

/// A mirror node REST endpoint: serves any `MirrorNodeClient` (a
/// `LocalMirrorNode`, typically) over HTTP/1.1, one request per connection,
/// so `MirrorNodeHTTPClient` — and curl — can read a local ledger the way
/// they read a Hedera mirror node.
///
/// ```swift
/// let server = try await MirrorNodeHTTPServer.start(LocalMirrorNode(ledger: local), host: "127.0.0.1", port: 0)
/// print("http://127.0.0.1:\(server.port)")
/// try await server.stop()
/// ```
public final class MirrorNodeHTTPServer: Sendable {
    /// The port it listens on.
    public let port: Int
    /// `http://host:port`.
    public let baseURL: String
    private let channel: any Channel
    private let accepting: Task<Void, Never>

    private init(port: Int, baseURL: String, channel: any Channel, accepting: Task<Void, Never>) {
        self.port = port
        self.baseURL = baseURL
        self.channel = channel
        self.accepting = accepting
    }

    /// Binds `host:port` (port 0 picks one) and serves `mirror` until `stop()`.
    public static func start(_ mirror: some MirrorNodeClient, host: String, port: Int) async throws -> MirrorNodeHTTPServer {
        let server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
        do {
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw LedgerError(.invalidArgument, "cannot listen for mirror node requests on \(host):\(port); pick a free address.", cause: error)
        }
        let bound = server.channel.localAddress?.port ?? port
        let accepting = Task<Void, Never> {
            _ = try? await server.executeThenClose { connections in
                await withDiscardingTaskGroup { handlers in
                    do {
                        for try await connection in connections {
                            handlers.addTask { try? await Self.handle(connection, mirror: mirror) }
                        }
                    } catch {}
                }
            }
        }
        return MirrorNodeHTTPServer(port: bound, baseURL: "http://\(host):\(bound)", channel: server.channel, accepting: accepting)
    }

    /// Stops listening and waits for the accept loop to end.
    public func stop() async throws {
        try? await channel.close()
        accepting.cancel()
        await accepting.value
    }

    private static func handle(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>,
                               mirror: some MirrorNodeClient) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var uri: String?
            for try await part in inbound {
                switch part {
                case .head(let head): uri = head.uri
                case .body: break
                case .end:
                    guard let uri else { return }
                    let (status, body): (HTTPResponseStatus, [UInt8])
                    do {
                        (status, body) = (.ok, try await mirror.get(uri))
                    } catch let error as LedgerError where error.code == .notFound {
                        (status, body) = (.notFound, Array(#"{"_status":{"messages":[{"message":"Not found"}]}}"#.utf8))
                    } catch let error as LedgerError where error.code == .invalidArgument || error.code == .malformed {
                        (status, body) = (.badRequest, Array(#"{"_status":{"messages":[{"message":"Invalid parameter"}]}}"#.utf8))
                    } catch {
                        (status, body) = (.internalServerError, Array(#"{"_status":{"messages":[{"message":"Internal error"}]}}"#.utf8))
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
