import Synchronization
@testable import MeshLedger
import MeshLedgerNetwork

/// The mirror node REST server of MeshLedgerNetwork on 127.0.0.1 (real
/// HTTP/1.1 over a socket) in front of a `LocalMirrorNode`, recording every
/// request path so tests can see which pages a client asked for.
final class LocalMirrorHTTPServer: Sendable {
    /// A `MirrorNodeClient` that notes each path before answering it from `mirror`.
    struct Recording: MirrorNodeClient {
        let server: LocalMirrorHTTPServer

        func get(_ path: String) async throws -> [UInt8] {
            server.paths.withLock { $0.append(path) }
            return try await server.mirror.get(path)
        }
    }

    let mirror: LocalMirrorNode
    fileprivate let paths = Mutex<[String]>([])

    init(mirror: LocalMirrorNode) {
        self.mirror = mirror
    }

    /// The request paths served so far, in order.
    var requests: [String] { paths.withLock { $0 } }

    /// Serves on an ephemeral port for the duration of `body`, which gets the base URL.
    func serve<R: Sendable>(_ body: (String) async throws -> R) async throws -> R {
        let server = try await MirrorNodeHTTPServer.start(Recording(server: self), host: "127.0.0.1", port: 0)
        do {
            let result = try await body(server.baseURL)
            try await server.stop()
            return result
        } catch {
            try? await server.stop()
            throw error
        }
    }
}
