public import Libp2p

extension GossipsubService {
    /// Most peers from one PRUNE that are dialled.
    static let maxExchangeDials = 8

    /// Sets how addresses are found for a peer offered in peer exchange without a signed record and
    /// unknown to the peerstore (e.g. a DHT `findPeer`); without it such peers are skipped.
    public func setPeerResolver(_ resolver: @escaping @Sendable (PeerID) async -> [Multiaddr]) {
        peerResolver = resolver
    }

    /// Peers dialled because a PRUNE offered them, most recent last (for tests and diagnostics).
    public var exchangedPeers: [PeerID] { dialledFromExchange }

    /// Remembers `peer`'s signed record (verified by the host's identify) for our own PRUNEs.
    func learnRecord(of peer: PeerID) {
        if let envelope = host.peerstore.record(for: peer).signedPeerRecord { router.peerRecords[peer] = envelope }
    }

    /// Dials peers offered by a PRUNE: with the addresses of a valid signed record of that very peer, else
    /// those the peerstore knows, else the resolver's. Already connected peers are skipped.
    func connectExchanged(_ offered: [ControlMessage.PeerInfo]) {
        let host = self.host
        let resolver = peerResolver
        var targets: [(PeerID, [Multiaddr])] = []
        for info in offered.prefix(Self.maxExchangeDials) {
            guard let peer = try? PeerID(bytes: info.peerID), peer != host.peerID else { continue }
            var addresses: [Multiaddr] = []
            if let envelope = info.signedPeerRecord, let record = try? SignedPeerRecord(envelope: envelope), record.peer == peer {
                addresses = record.addresses
                host.peerstore.setSignedPeerRecord(envelope, for: peer)
                host.peerstore.addAddresses(addresses, for: peer)
            }
            targets.append((peer, addresses))
        }
        guard !targets.isEmpty else { return }
        Task { [weak self] in
            for (peer, signed) in targets {
                guard await host.existingConnection(to: peer) == nil else { continue }
                var addresses = signed.isEmpty ? host.peerstore.record(for: peer).addresses : signed
                if addresses.isEmpty, let resolver { addresses = await resolver(peer) }
                for address in addresses {
                    // Host.connect is bounded by the host's dial and upgrade timeouts.
                    if (try? await host.connect(to: address.withoutPeerID.appending(.p2p(peer)))) != nil {
                        await self?.noteExchangeDial(peer)
                        break
                    }
                }
            }
        }
    }

    func noteExchangeDial(_ peer: PeerID) { dialledFromExchange.append(peer) }
}
