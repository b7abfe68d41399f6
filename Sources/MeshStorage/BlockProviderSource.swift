public import Libp2p

/// Where a fetcher finds peers that may hold a blob: the DHT when the node runs
/// one, else the manifest's publisher. MeshStorage owns this protocol so a
/// Kademlia adapter (GET_PROVIDERS / ADD_PROVIDER on the root CID's bytes) can
/// implement it without MeshStorage depending on Kademlia.
///
/// ```swift
/// let source = StaticProviderSource([try Multiaddr("/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…")])
/// let report = try await exchange.fetch(root, providers: source)
/// ```
public protocol BlockProviderSource: Sendable {
    /// Addresses (ending in `/p2p/<peer id>`) of peers that may hold `root`, best first.
    func providers(of root: CID) async throws -> [Multiaddr]
    /// Tells the source that this node now serves `root` at `addresses`.
    func announce(_ root: CID, addresses: [Multiaddr]) async throws
}

/// A fixed list of providers, such as the publisher named in a job: the
/// fallback when there is no DHT. Announcing is a no-op.
public struct StaticProviderSource: BlockProviderSource {
    /// The providers, in order.
    public var addresses: [Multiaddr]

    /// A source that always answers `addresses`.
    public init(_ addresses: [Multiaddr]) { self.addresses = addresses }

    /// The fixed list.
    public func providers(of root: CID) async throws -> [Multiaddr] { addresses }

    /// Does nothing: a static list cannot learn new providers.
    public func announce(_ root: CID, addresses: [Multiaddr]) async throws {}
}
