import ArgumentParser
import Foundation
import Gossipsub
import Libp2p
import NIOCore

/// Gossipsub on N Swift hosts on 127.0.0.1: delivery ratio and latency at steady publish rates, then
/// the rate at which a burst of messages reaches every subscriber.
struct PubsubBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pubsub",
        abstract: "Gossipsub delivery, latency and messages/s on N Swift hosts on 127.0.0.1.",
        discussion: """
            Every host subscribes to one topic; host i dials --degree random earlier hosts. Once the meshes \
            formed, for each --rate, --messages messages are published round-robin from all hosts at that many \
            per second (latency: publish to arrival at each other subscriber, and the CPU the process used), \
            then --burst messages back to back (messages/s: until \
            the last subscriber has the last one).
            """)

    @Option(help: "Hosts.") var nodes: Int = 30
    @Option(help: "Connections each new host dials to earlier hosts.") var degree: Int = 4
    @Option(help: "Messages published at each paced rate.") var messages: Int = 1000
    @Option(name: .customLong("rate"), help: "Paced publish rate, messages per second over all publishers (repeat for a sweep).")
    var rates: [Double] = [50]
    @Option(help: "Messages published back to back for the throughput figure.") var burst: Int = 2000
    @Option(help: "Payload bytes per message (at least 16).") var size: Int = 256
    @Option(help: "Heartbeat interval in milliseconds.") var heartbeatMs: Int = 1000

    func validate() throws {
        guard nodes >= 2 else { throw ValidationError("--nodes must be at least 2") }
        guard degree >= 1, messages >= 0, burst >= 0, !rates.isEmpty, rates.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--degree and --rate must be positive, --messages and --burst not negative")
        }
        guard size >= 16 else { throw ValidationError("--size must be at least 16 (index and timestamp)") }
        guard heartbeatMs >= 10 else { throw ValidationError("--heartbeat-ms must be at least 10") }
    }

    static let topic = "/meshfl/bench/pubsub/1"

    func run() async throws {
        var configuration = GossipsubConfiguration()
        configuration.heartbeatInterval = .milliseconds(heartbeatMs)
        let clock = ContinuousClock()
        let origin = clock.now
        let log = DeliveryLog(expectedPerMessage: nodes - 1)
        var built: [(host: Libp2p.Host, pubsub: GossipsubService)] = []
        var receivers: [Task<Void, Never>] = []
        for index in 0..<nodes {
            let key = PrivateKey.generate()
            let host = Libp2p.Host(identity: key, logger: BenchSupport.quietLogger)
            try await host.listen(on: [Multiaddr("/ip4/127.0.0.1/tcp/0")])
            let pubsub = GossipsubService(host: host, key: key, configuration: configuration, seed: UInt64(index + 1))
            await pubsub.start()
            let stream = await pubsub.subscribe(Self.topic)
            receivers.append(Task {
                for await message in stream {
                    let arrived = clock.now - origin
                    var data = ByteBuffer(bytes: message.data)
                    guard let id = data.readInteger(as: UInt64.self), let sent = data.readInteger(as: UInt64.self) else { continue }
                    await log.record(node: index, message: Int(id), sent: .nanoseconds(Int64(sent)), arrived: arrived)
                }
            })
            built.append((host, pubsub))
        }
        let hosts = built
        var generator = SystemRandomNumberGenerator()
        for index in 1..<nodes {
            let peers = Array(0..<index).shuffled(using: &generator).prefix(degree)
            for peer in peers { _ = try await hosts[index].host.connect(to: await hosts[peer].host.fullAddresses[0]) }
        }
        let meshed = await BenchSupport.eventually(.seconds(60)) {
            for node in hosts {
                let connected = await node.host.connectedPeers.count
                if await node.pubsub.meshPeers(Self.topic).count < min(configuration.dLow, connected) { return false }
            }
            return true
        }
        guard meshed else { throw BenchError("gossipsub meshes did not reach D_low within 60 s") }
        try await Task.sleep(for: .milliseconds(2 * heartbeatMs))
        var meshSizes: [Double] = []
        for node in hosts { meshSizes.append(Double(await node.pubsub.meshPeers(Self.topic).count)) }
        BenchSupport.log("\(nodes) hosts meshed (mean mesh \(BenchSupport.mean(meshSizes)))")

        func payload(_ id: Int) -> [UInt8] {
            let (seconds, attoseconds) = (clock.now - origin).components
            var buffer = ByteBuffer()
            buffer.writeInteger(UInt64(id))
            buffer.writeInteger(UInt64(seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
            buffer.writeRepeatingByte(0x6D, count: size - 16)
            return Array(buffer.readableBytesView)
        }

        // Paced phases, one per --rate: latency and delivery at a steady offered load. A latency measured
        // above the rate the machine sustains is queueing time that grows with the run, so the rates are
        // reported side by side with the CPU they took.
        var paced: [[String: Any]] = []
        var nextID = 0
        for rate in rates {
            let ids = nextID..<(nextID + messages)
            nextID += messages
            let start = clock.now
            let cpuStart = BenchSupport.cpuSeconds()
            for (n, id) in ids.enumerated() {
                let due = start + .seconds(Double(n) / rate)
                if clock.now < due { try await Task.sleep(until: due, clock: clock) }
                await log.published(id, by: id % nodes)
                await hosts[id % nodes].pubsub.publish(Self.topic, payload(id))
            }
            let publishSeconds = BenchSupport.seconds(clock.now - start)
            _ = await BenchSupport.eventually(.seconds(10)) { await log.delivered(ids) == messages * (nodes - 1) }
            let cpu = BenchSupport.cpuSeconds() - cpuStart
            let seconds = BenchSupport.seconds(clock.now - start)
            let delivered = await log.delivered(ids)
            let latencies = await log.latencies(ids).map { BenchSupport.seconds($0) * 1e3 }
            paced.append([
                "rate": rate, "messages": messages, "publish_seconds": publishSeconds,
                "achieved_rate": Double(messages) / max(publishSeconds, 1e-9),
                "delivery_ratio": messages == 0 ? 1 : Double(delivered) / Double(messages * (nodes - 1)),
                "latency_p50_ms": BenchSupport.percentile(latencies, 0.5),
                "latency_p99_ms": BenchSupport.percentile(latencies, 0.99),
                "latency_max_ms": latencies.max() ?? 0, "latency_mean_ms": BenchSupport.mean(latencies),
                "cpu_seconds": cpu, "cpu_cores": cpu / max(seconds, 1e-9),
            ])
            BenchSupport.log("\(rate) msg/s: p99 \(BenchSupport.round(BenchSupport.percentile(latencies, 0.99), 2)) ms")
            try await Task.sleep(for: .milliseconds(2 * heartbeatMs))  // let the last phase's gossip die down
        }

        // Burst phase: messages/s until every subscriber has every message.
        let burstIDs = nextID..<(nextID + burst)
        let burstStart = clock.now
        let burstCPUStart = BenchSupport.cpuSeconds()
        for id in burstIDs {
            await log.published(id, by: id % nodes)
            await hosts[id % nodes].pubsub.publish(Self.topic, payload(id))
        }
        _ = await BenchSupport.eventually(.seconds(60)) { await log.delivered(burstIDs) == burst * (nodes - 1) }
        let burstDelivered = await log.delivered(burstIDs)
        let burstCPU = BenchSupport.cpuSeconds() - burstCPUStart
        let lastArrival = await log.lastArrival(burstIDs)
        let burstSeconds = burst == 0 ? 0 : BenchSupport.seconds((origin + lastArrival) - burstStart)

        for task in receivers { task.cancel() }
        for node in hosts {
            await node.pubsub.stop()
            await node.host.shutdown()
        }
        try BenchSupport.printJSON([
            "nodes": nodes, "degree": degree, "heartbeat_ms": heartbeatMs, "size": size,
            "mean_mesh_size": BenchSupport.mean(meshSizes),
            "paced": paced,
            "burst_cpu_seconds": burstCPU,
            "burst_messages": burst,
            "burst_delivery_ratio": burst == 0 ? 1 : Double(burstDelivered) / Double(burst * (nodes - 1)),
            "burst_seconds": burstSeconds,
            "messages_per_second": burst == 0 ? 0 : Double(burst) / burstSeconds,
            "deliveries_per_second": burst == 0 ? 0 : Double(burstDelivered) / burstSeconds,
        ])
    }
}

/// Arrivals of benchmark messages at each host (a publisher's own copy is not counted).
actor DeliveryLog {
    let expectedPerMessage: Int
    private var publisher: [Int: Int] = [:]
    private var latency: [Int: [Int: Duration]] = [:]
    private var lastArrival: [Int: Duration] = [:]

    init(expectedPerMessage: Int) { self.expectedPerMessage = expectedPerMessage }

    /// Notes that `node` publishes `message` (before it does).
    func published(_ message: Int, by node: Int) { publisher[message] = node }

    /// `message` reached `node` at offset `arrived`, having been published at offset `sent`.
    func record(node: Int, message: Int, sent: Duration, arrived: Duration) {
        guard let from = publisher[message], from != node, latency[message]?[node] == nil else { return }
        latency[message, default: [:]][node] = arrived - sent
        lastArrival[message] = max(lastArrival[message] ?? .zero, arrived)
    }

    /// (node, message) arrivals, publishers excluded, for `messages`.
    func delivered(_ messages: Range<Int>) -> Int {
        messages.reduce(0) { $0 + (latency[$1]?.count ?? 0) }
    }

    /// Every publish-to-arrival latency for `messages`.
    func latencies(_ messages: Range<Int>) -> [Duration] {
        messages.flatMap { (latency[$0] ?? [:]).values }
    }

    /// The offset of the latest arrival of any of `messages`.
    func lastArrival(_ messages: Range<Int>) -> Duration {
        messages.reduce(Duration.zero) { max($0, lastArrival[$1] ?? .zero) }
    }
}
