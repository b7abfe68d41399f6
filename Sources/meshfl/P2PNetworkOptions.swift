import ArgumentParser
import Foundation
import Gossipsub
import Kademlia
import Libp2p

/// The options of every `meshfl p2p` command that joins the network: listen addresses, bootstrap peers
/// (flags and a file) and local discovery.
struct P2PNetworkOptions: ParsableArguments {
    @Option(help: "Multiaddr to listen on (repeatable).")
    var listen: [String] = ["/ip4/0.0.0.0/tcp/0"]

    @Option(name: .customLong("bootstrap"), help: "A peer to join through, /ip4/…/tcp/…/p2p/12D3KooW… (repeatable).")
    var bootstrap: [String] = []

    @Option(help: "A file of bootstrap multiaddrs, one per line ('#' starts a comment).")
    var bootstrapFile: String?

    @Option(help: "Seconds to keep retrying each bootstrap peer.")
    var bootstrapTimeout: Double = 10

    @Flag(help: "Find peers on the local network with mDNS (_p2p._udp.local); off by default.")
    var mdns = false

    /// Every bootstrap address from the flags and the file, parsed.
    func bootstrapAddresses() throws -> [Multiaddr] {
        var lines = bootstrap.map { (text: $0, origin: "--bootstrap") }
        if let bootstrapFile {
            let text: String
            do { text = try String(contentsOfFile: bootstrapFile, encoding: .utf8) } catch {
                throw ValidationError("cannot read --bootstrap-file \(bootstrapFile): \(error.localizedDescription)")
            }
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let entry = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                let trimmed = entry.trimmingCharacters(in: .whitespaces)
                if !trimmed.isEmpty { lines.append((trimmed, "\(bootstrapFile):\(n + 1)")) }
            }
        }
        var addresses: [Multiaddr] = []
        for line in lines {
            let address: Multiaddr
            do { address = try Multiaddr(line.text) } catch {
                throw ValidationError("\(line.origin): '\(line.text)' is not a multiaddr: \(error.message)")
            }
            guard address.peerID != nil else {
                throw ValidationError("\(line.origin): '\(line.text)' needs a /p2p/<peer id> part")
            }
            addresses.append(address)
        }
        return addresses
    }

    func validate() throws {
        for address in listen {
            do { _ = try Multiaddr(address) } catch { throw ValidationError("--listen \(address): \(error.message)") }
        }
        _ = try bootstrapAddresses()
        guard bootstrapTimeout > 0, bootstrapTimeout <= 600 else {
            throw ValidationError("--bootstrap-timeout must be between 0 and 600 seconds")
        }
    }
}

/// A running libp2p node for the `meshfl p2p` commands: host, DHT and (optionally) gossipsub, with
/// discovery wired in — bootstrap peers, DHT random walks, peers from gossipsub peer exchange, and mDNS.
struct P2PNode {
    let host: Libp2p.Host
    let dht: KademliaService
    let pubsub: GossipsubService?
    let mdns: MDNSDiscovery?

    /// Starts the node, listens, and connects to the bootstrap peers.
    static func start(key: PrivateKey, options: P2PNetworkOptions, pubsub withPubsub: Bool) async throws -> P2PNode {
        let host = Libp2p.Host(identity: key)
        do {
            try await host.listen(on: try options.listen.map { try Multiaddr($0) })
        } catch let error as Libp2pError {
            throw UsageError("cannot listen on \(options.listen.joined(separator: ", ")): \(error.message)")
        }
        let dht = KademliaService(host: host, validators: ["meshfl": AcceptAllValidator()], queryTimeout: .seconds(5))
        await dht.start()
        var pubsub: GossipsubService?
        if withPubsub {
            let service = GossipsubService(host: host, key: key)
            await service.setPeerResolver { peer in await dht.findPeer(peer) }
            await service.start()
            pubsub = service
        }
        var mdns: MDNSDiscovery?
        if options.mdns {
            let addresses = await host.fullAddresses
            let discovery = MDNSDiscovery(peer: host.peerID, addresses: addresses.map(\.withoutPeerID))
            try await discovery.start { found in
                Task { _ = try? await host.connect(to: found) }
            }
            mdns = discovery
        }
        let node = P2PNode(host: host, dht: dht, pubsub: pubsub, mdns: mdns)
        try await node.joinBootstrapPeers(try options.bootstrapAddresses(), timeout: .milliseconds(Int(options.bootstrapTimeout * 1000)))
        await dht.bootstrap()
        await dht.startMaintenance(refreshInterval: .seconds(60))
        return node
    }

    /// Connects to each bootstrap peer, retrying every second until `timeout`; fails if none answers.
    func joinBootstrapPeers(_ addresses: [Multiaddr], timeout: Duration) async throws {
        guard !addresses.isEmpty else { return }
        let deadline = ContinuousClock.now + timeout
        var joined: [PeerID] = []
        var lastError: [String] = []
        for address in addresses {
            while true {
                do {
                    joined.append(try await host.connect(to: address))
                    break
                } catch {
                    if ContinuousClock.now >= deadline {
                        lastError.append("\(address): \(error)")
                        break
                    }
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
        if joined.isEmpty {
            await shutdown()
            throw UsageError("no bootstrap peer answered (\(lastError.joined(separator: "; "))); check the addresses and that the peers are running")
        }
        for failure in lastError { CommandLineOutput.note("bootstrap peer unreachable: \(failure)") }
        // Identify tells the DHT which of them are servers; give it a moment (bounded) before the first lookup.
        let identified = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < identified, joined.contains(where: { host.peerstore.record(for: $0).protocols.isEmpty }) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let servers = joined.filter { host.peerstore.record(for: $0).protocols.contains(KademliaService.protocolID) }
        while ContinuousClock.now < identified, !servers.isEmpty, await dht.routingTablePeers.isEmpty {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    func shutdown() async {
        if let pubsub { await pubsub.stop() }
        await dht.stop()
        await mdns?.stop()
        await host.shutdown()
    }

    /// Writes a line to standard output unbuffered, so a parent process sees it at once.
    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
