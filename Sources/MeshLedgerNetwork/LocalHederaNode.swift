public import MeshLedger
internal import GRPCCore
internal import GRPCNIOTransportHTTP2Posix

/// A stand-in Hedera network on one machine: `LocalHAPIService` over HTTP/2
/// gRPC and a `LocalMirrorNode` over HTTP/1.1, both backed by one `LocalLedger`
/// file. `meshfl ledger serve-hapi` runs it; `--ledger hedera:CONFIG` nodes
/// talk to it exactly as to a Hedera node and mirror node.
///
/// ```swift
/// try await LocalHederaNode.serve(ledger: local, hapi: ("127.0.0.1", 0), mirror: ("127.0.0.1", 0)) { addresses in
///     print(addresses.hapi, addresses.mirror)
/// }
/// ```
public enum LocalHederaNode {
    /// Where the two endpoints listen.
    public struct Addresses: Sendable {
        /// `host:port` of the HAPI gRPC endpoint.
        public var hapi: String
        /// The mirror node's base URL, `http://host:port`.
        public var mirror: String
    }

    /// Serves until the task is cancelled; `ready` gets the bound addresses once both listen.
    public static func serve(ledger: LocalLedger, hapi: (host: String, port: Int), mirror: (host: String, port: Int),
                             ready: @Sendable (Addresses) -> Void) async throws {
        let transport = HTTP2ServerTransport.Posix(address: .ipv4(host: hapi.host, port: hapi.port), transportSecurity: .plaintext)
        let server = GRPCServer(transport: transport, services: [LocalHAPIService(ledger: ledger)])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            do {
                let port: Int?
                do { port = try await transport.listeningAddress.ipv4?.port } catch {
                    throw LedgerError(.invalidArgument, "cannot listen for HAPI on \(hapi.host):\(hapi.port); pick a free IPv4 address.", cause: error)
                }
                guard let bound = port else {
                    throw LedgerError(.invalidArgument, "the HAPI endpoint \(hapi.host):\(hapi.port) is not an IPv4 address.")
                }
                let http = try await MirrorNodeHTTPServer.start(LocalMirrorNode(ledger: ledger), host: mirror.host, port: mirror.port)
                ready(Addresses(hapi: "\(hapi.host):\(bound)", mirror: http.baseURL))
                do { try await group.next() } catch {
                    try? await http.stop()
                    throw error
                }
                try? await http.stop()
            } catch {
                server.beginGracefulShutdown()
                group.cancelAll()
                throw error
            }
        }
    }
}
