import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
@testable import MeshStorage

/// A raw-TCP HTTP server that answers each request with the next canned
/// response (the last one repeats) and counts requests.
final class ScriptedHTTPServer: Sendable {
    let channel: any Channel
    let counter: NIOLockedValueBox<Int>
    var port: Int { channel.localAddress!.port! }
    var requests: Int { counter.withLockedValue { $0 } }

    init(responses: [String]) async throws {
        let counter = NIOLockedValueBox(0)
        self.counter = counter
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(responses: responses, counter: counter))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func stop() async throws { try await channel.close() }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let responses: [String]
        let counter: NIOLockedValueBox<Int>
        var received = ""
        var answered = false

        init(responses: [String], counter: NIOLockedValueBox<Int>) {
            self.responses = responses
            self.counter = counter
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            received += buffer.readString(length: buffer.readableBytes) ?? ""
            guard !answered, received.contains("\r\n\r\n") else { return }
            answered = true
            let index = counter.withLockedValue { count in
                count += 1
                return count - 1
            }
            let body = responses[min(index, responses.count - 1)]
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: body)))
                .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}

struct S3RetryTests {
    static let ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nx-amz-meta-sha256: abc\r\nConnection: close\r\n\r\n"
    static let unavailable = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    static let forbidden = "HTTP/1.1 403 Forbidden\r\nContent-Length: 60\r\nConnection: close\r\n\r\n<Error><Code>AccessDenied</Code><Message>no</Message></Error>"

    func store(_ server: ScriptedHTTPServer) throws -> S3BlobStore {
        var store = try S3BlobStore(endpoint: URL(string: "http://127.0.0.1:\(server.port)")!, region: "us-east-1", bucket: "b",
                                    credentials: .init(accessKeyID: "test", secretAccessKey: "test"))
        store.attempts = 3
        return store
    }

    @Test func transientFailuresAreRetried() async throws {
        let server = try await ScriptedHTTPServer(responses: [Self.unavailable, Self.unavailable, Self.ok])
        let info = try await store(server).head(key: "k")
        #expect(info?.sha256 == "abc")
        #expect(server.requests == 3)
        try await server.stop()
    }

    @Test func retriesAreBoundedAndThenFail() async throws {
        let server = try await ScriptedHTTPServer(responses: [Self.unavailable])
        await #expect(throws: StorageError.self) { _ = try await store(server).head(key: "k") }
        #expect(server.requests == 3)
        try await server.stop()
    }

    @Test func refusalsAreNotRetried() async throws {
        let server = try await ScriptedHTTPServer(responses: [Self.forbidden, Self.ok])
        await #expect { _ = try await store(server).get(key: "k") } throws: { error in
            (error as? StorageError)?.message.contains("AccessDenied") == true
        }
        #expect(server.requests == 1)
        try await server.stop()
    }
}
