import ArgumentParser
import Foundation
import Kademlia
import Libp2p

/// Kademlia on N Swift hosts on 127.0.0.1: the time of GET_VALUE and FIND_NODE lookups once the
/// network is bootstrapped.
struct DHTBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dht",
        abstract: "Kademlia lookup latency on N Swift hosts on 127.0.0.1.",
        discussion: """
            Host i dials --degree random earlier hosts, then every host runs a self-lookup (bootstrap). \
            --values records are put from random hosts; then --lookups GET_VALUE lookups of random stored keys \
            with --quorum, as many with quorum 0 (the lookup runs to its end), and --lookups FIND_NODE lookups of random keys run one at a time from random hosts (k = 20, alpha = 3).
            """)

    @Option(help: "Hosts.") var nodes: Int = 200
    @Option(help: "Connections each new host dials to earlier hosts.") var degree: Int = 3
    @Option(help: "Records put before measuring.") var values: Int = 50
    @Option(help: "Measured lookups of each kind.") var lookups: Int = 200
    @Option(help: "Per-query timeout in milliseconds.") var queryTimeoutMs: Int = 3000
    @Option(help: "GET_VALUE quorum of the measured gets (a full lookup, quorum 0, is measured too).") var quorum: Int = 1

    func validate() throws {
        guard nodes >= 2, degree >= 1, values >= 1, lookups >= 1, queryTimeoutMs > 0, quorum >= 0 else {
            throw ValidationError("--nodes must be at least 2; --degree, --values, --lookups and --query-timeout-ms positive")
        }
    }

    func run() async throws {
        let clock = ContinuousClock()
        var built: [(host: Libp2p.Host, dht: KademliaService)] = []
        for _ in 0..<nodes {
            var configuration = Libp2p.Host.Configuration()
            configuration.keepAliveInterval = nil  // thousands of idle connections in one process; pings would only add noise
            // All hosts share this process's descriptors (and libdispatch traps when it cannot open /proc files):
            // bound each host's connections, as a real node's connection manager would.
            configuration.maxConnections = 60
            let host = try await BenchSupport.host(configuration: configuration)
            let dht = KademliaService(host: host, validators: ["meshfl": AcceptAllValidator()],
                                      queryTimeout: .milliseconds(queryTimeoutMs))
            await dht.start()
            built.append((host, dht))
        }
        let hosts = built
        var generator = SystemRandomNumberGenerator()
        for index in 1..<nodes {
            for peer in Array(0..<index).shuffled(using: &generator).prefix(degree) {
                _ = try await hosts[index].host.connect(to: await hosts[peer].host.fullAddresses[0])
            }
        }
        let identified = await BenchSupport.eventually(.seconds(60)) {
            for node in hosts where await node.dht.routingTablePeers.isEmpty { return false }
            return true
        }
        guard identified else { throw BenchError("some hosts had an empty routing table 60 s after connecting") }
        let bootStart = clock.now
        for node in hosts { await node.dht.bootstrap() }
        let bootSeconds = BenchSupport.seconds(clock.now - bootStart)
        var tableSizes: [Double] = []
        for node in hosts { tableSizes.append(Double(await node.dht.routingTablePeers.count)) }
        BenchSupport.log("\(nodes) hosts bootstrapped in \(String(format: "%.1f", bootSeconds)) s (mean table \(BenchSupport.mean(tableSizes)))")

        var records: [([UInt8], [UInt8])] = []
        var stored: [Double] = []
        for index in 0..<values {
            let key = Array("/meshfl/bench-\(index)".utf8)
            let value = Array("value-\(index)-\(UInt64.random(in: 0...UInt64.max))".utf8)
            stored.append(Double(try await hosts.randomElement(using: &generator)!.dht.putValue(key, value)))
            records.append((key, value))
        }

        /// GET_VALUE lookups from random hosts of random stored keys: (milliseconds each, how many found the value).
        func gets(quorum: Int) async -> (times: [Double], found: Int) {
            var times: [Double] = []
            var found = 0
            for _ in 0..<lookups {
                let (key, value) = records.randomElement(using: &generator)!
                let node = hosts.randomElement(using: &generator)!
                let start = clock.now
                let got = try? await node.dht.getValue(key, quorum: quorum)
                times.append(BenchSupport.seconds(clock.now - start) * 1e3)
                if got?.value == value { found += 1 }
            }
            return (times, found)
        }
        let (getTimes, found) = await gets(quorum: quorum)
        let (fullTimes, fullFound) = await gets(quorum: 0)
        var findTimes: [Double] = []
        var complete = 0
        for _ in 0..<lookups {
            let key = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let node = hosts.randomElement(using: &generator)!
            let start = clock.now
            let closest = await node.dht.closestPeers(to: key)
            findTimes.append(BenchSupport.seconds(clock.now - start) * 1e3)
            if closest.count >= min(20, nodes - 1) { complete += 1 }
        }
        var connections: [Double] = []
        for node in hosts { connections.append(Double(await node.host.connectedPeers.count)) }
        for node in hosts {
            await node.dht.stop()
            await node.host.shutdown()
        }
        try BenchSupport.printJSON([
            "nodes": nodes, "degree": degree, "values": values, "lookups": lookups,
            "bootstrap_seconds": bootSeconds, "mean_table_size": BenchSupport.mean(tableSizes),
            "mean_replicas": BenchSupport.mean(stored), "mean_connections_per_host": BenchSupport.mean(connections),
            "quorum": quorum, "get_found_ratio": Double(found) / Double(lookups),
            "get_full_found_ratio": Double(fullFound) / Double(lookups), "get_full_mean_ms": BenchSupport.mean(fullTimes),
            "get_full_p50_ms": BenchSupport.percentile(fullTimes, 0.5),
            "get_mean_ms": BenchSupport.mean(getTimes), "get_p50_ms": BenchSupport.percentile(getTimes, 0.5),
            "get_p99_ms": BenchSupport.percentile(getTimes, 0.99),
            "find_node_complete_ratio": Double(complete) / Double(lookups),
            "find_node_mean_ms": BenchSupport.mean(findTimes), "find_node_p50_ms": BenchSupport.percentile(findTimes, 0.5),
            "find_node_p99_ms": BenchSupport.percentile(findTimes, 0.99),
        ])
    }
}
