import Foundation
import Kademlia
import Libp2p
import MeshStorage

/// Providers of a blob from the Kademlia DHT (GET_PROVIDERS / ADD_PROVIDER on
/// the root CID's multihash, as IPFS keys content), then the fixed fallback
/// addresses (the manifest's publisher, `--from`) that the DHT did not name.
///
/// ```swift
/// let source = DHTProviderSource(dht: dht, host: host, fallback: publisher)
/// let report = try await exchange.fetch(root, providers: source)   // announces itself once it holds the blob
/// ```
struct DHTProviderSource: BlockProviderSource {
    let dht: KademliaService
    let host: Libp2p.Host
    let fallback: [Multiaddr]


    /// DHT providers with their known addresses (each ending in `/p2p/<peer>`), then the fallback.
    func providers(of root: CID) async throws -> [Multiaddr] {
        var addresses: [Multiaddr] = []
        for peer in await dht.findProviders(root.multihash) where peer != host.peerID {
            for address in host.peerstore.record(for: peer).addresses {
                addresses.append(address.withoutPeerID.appending(.p2p(peer)))
            }
        }
        let named = Set(addresses.compactMap(\.peerID))
        return addresses + fallback.filter { address in address.peerID.map { !named.contains($0) } ?? false }
    }

    /// Tells the DHT's closest peers that this node serves `root`.
    func announce(_ root: CID, addresses: [Multiaddr]) async throws {
        await dht.provide(root.multihash)
    }
}

extension StoreCommand.Swarm {
    /// A DHT node on `host` joined through `--dht-bootstrap` (nil when none is given).
    func startDHT(on host: Libp2p.Host) async throws -> KademliaService? {
        guard !dhtBootstrap.isEmpty else { return nil }
        let dht = KademliaService(host: host, validators: [:], queryTimeout: .seconds(5))
        await dht.start()
        var joined = 0
        for text in dhtBootstrap {
            do {
                _ = try await host.connect(to: try Multiaddr(text))
                joined += 1
            } catch {
                CommandLineOutput.note("DHT bootstrap peer \(text) unreachable: \(error)")
            }
        }
        guard joined > 0 else { throw UsageError("no --dht-bootstrap peer answered; check the addresses (they must end in /p2p/<peer id>)") }
        // Identify tells the DHT which peers serve /ipfs/kad/1.0.0; give it a moment before the first lookup.
        for _ in 0..<40 where await dht.routingTablePeers.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        await dht.bootstrap()
        return dht
    }
}
