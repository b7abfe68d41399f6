internal import GRPCCore
public import GRPCNIOTransportHTTP2Posix
public import MeshLedger

/// A `HederaLedger` on a real connection, opened from a `--ledger hedera:CONFIG`
/// file: HTTP/2 gRPC to the first node of `network`, HTTP(S) to the mirror
/// node; the client's connections run in a task this object owns.
///
/// ```swift
/// let network = try HederaNetworkLedger(file: try HederaConfigFile.load("hedera.json"))
/// let topic = try await network.ledger.createTopic(memo: "audit", submitKey: nil, payer: network.file.account)
/// await network.close()
/// ```
public final class HederaNetworkLedger: Sendable {
    /// The config file it was opened from.
    public let file: HederaConfigFile
    /// The ledger.
    public let ledger: HederaLedger<HTTP2ClientTransport.Posix>
    private let client: GRPCClient<HTTP2ClientTransport.Posix>
    private let connections: Task<Void, Never>

    /// Connects lazily: the first call dials the node; an unreachable node fails that call after `callTimeout`.
    public init(file: HederaConfigFile) throws(LedgerError) {
        guard let node = file.configuration.nodes.first else {
            throw LedgerError(.invalidArgument, "Hedera config \(file.path): field \"network\" lists no node.")
        }
        let transport = try HederaNodeTransport.make(for: node, security: file.tls ? .tls : .plaintext)
        let mirror = try MirrorNodeHTTPClient(baseURL: file.configuration.mirrorNodeURL)
        let client = GRPCClient(transport: transport)
        self.file = file
        self.client = client
        self.connections = Task { try? await client.runConnections() }
        self.ledger = HederaLedger(client: client, configuration: file.configuration, mirror: mirror)
    }

    /// Lets in-flight calls finish, then closes the connections.
    public func close() async {
        client.beginGracefulShutdown()
        await connections.value
    }
}
