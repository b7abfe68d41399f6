public import GRPCNIOTransportHTTP2Posix
public import MeshLedger

/// The HTTP/2 gRPC transport from `HederaLedger` to a Hedera consensus node.
///
/// Hedera nodes serve HAPI in plaintext on port 50211 and with TLS on 50212.
///
/// ```swift
/// let node = HederaConfiguration.Node(address: "0.testnet.hedera.com:50211", account: AccountID(num: 3))
/// let transport = try HederaNodeTransport.make(for: node)
/// try await withGRPCClient(transport: transport) { client in
///     let hedera = HederaLedger(client: client, configuration: config, mirror: try MirrorNodeHTTPClient(baseURL: config.mirrorNodeURL))
///     …
/// }
/// ```
public enum HederaNodeTransport {
    /// Whether the connection is encrypted.
    public enum Security: Sendable {
        /// No encryption (port 50211 on Hedera nodes, or a local node).
        case plaintext
        /// TLS with the system's trust roots (port 50212).
        case tls
    }

    /// A transport to `node.address` (`host:port`); IPv4 literals connect directly, names resolve through DNS.
    public static func make(for node: HederaConfiguration.Node, security: Security = .plaintext) throws(LedgerError) -> HTTP2ClientTransport.Posix {
        let (host, port) = try parse(node.address)
        let target: any ResolvableTarget = isIPv4(host) ? .ipv4(address: host, port: port) : .dns(host: host, port: port)
        do {
            return try HTTP2ClientTransport.Posix(target: target, transportSecurity: security == .tls ? .tls : .plaintext)
        } catch {
            throw LedgerError(.invalidArgument, "cannot build a gRPC transport to \(node.address) (node \(node.account)).", cause: error)
        }
    }

    /// Splits `host:port`; throws `invalidArgument` naming the address otherwise.
    static func parse(_ address: String) throws(LedgerError) -> (host: String, port: Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              (1...65_535).contains(port), colon != address.startIndex
        else {
            throw LedgerError(.invalidArgument, "the node address '\(address)' is not host:port (for example 0.testnet.hedera.com:50211).")
        }
        return (String(address[..<colon]), port)
    }

    static func isIPv4(_ host: String) -> Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }
    }
}
