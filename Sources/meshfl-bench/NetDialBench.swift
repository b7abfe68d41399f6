import ArgumentParser
import Foundation
import Libp2p
import NIOCore

/// Dial to first stream: TCP connect, multistream, Noise XX, yamux, then one negotiated stream
/// answering a ping, between two Swift hosts on 127.0.0.1 — repeated on fresh connections. Also reports the
/// median of each phase and the CPU time both hosts spent per dial, which a busy machine disturbs less.
struct NetDialBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net-dial",
        abstract: "Time from dial to the first negotiated stream's first answer, Swift→Swift on 127.0.0.1.",
        discussion: "Each dial is a new TCP connection upgraded with Noise and yamux; the connection is closed after each measurement.")

    @Option(help: "Measured dials.") var count: Int = 200
    @Option(help: "Unmeasured dials first.") var warmup: Int = 20
    @Flag(help: "Do not run identify on new connections (to see what it costs the first stream).") var noIdentify = false
    @Option(help: ArgumentHelp(
        "Full multiaddr of an echo server in another process (meshfl-bench net-sink); default: a host in this process.",
        discussion: "In one process both hosts share its event loops, so the listener's accept and handshake steps queue behind the dialler's; across two processes each side has its own, as between two machines.")) var target: String?

    func validate() throws {
        guard count > 0, warmup >= 0 else { throw ValidationError("--count must be positive and --warmup not negative") }
        if let target, (try? Multiaddr(target))?.peerID == nil {
            throw ValidationError("--target \(target) is not a multiaddr ending in /p2p/<peer id>")
        }
    }

    func run() async throws {
        var configuration = Libp2p.Host.Configuration()
        configuration.identifyOnConnect = !noIdentify
        let client = try await BenchSupport.host(configuration: configuration)
        var server: Libp2p.Host?
        let address: Multiaddr
        if let target {
            address = try Multiaddr(target)
        } else {
            let local = try await BenchSupport.host(configuration: configuration)
            await local.setHandler(BenchSupport.echoProtocol) { await BenchSupport.serveEcho($0) }
            address = await local.fullAddresses[0]
            server = local
        }
        guard let peer = address.peerID else { throw BenchError("\(address) names no peer") }
        var samples: [Double] = []
        var phases: [[Double]] = [[], [], []]
        var cpu: [Double] = []
        let clock = ContinuousClock()
        for attempt in 0..<(warmup + count) {
            let start = clock.now
            let cpuStart = BenchSupport.cpuSeconds()
            let (stream, marks) = try await BenchSupport.bounded(.seconds(10), "dial \(attempt + 1) to \(address)") {
                _ = try await client.connect(to: address)
                let connected = ContinuousClock.now
                let stream = try await client.newStream(to: address, protocols: [BenchSupport.echoProtocol])
                let negotiated = ContinuousClock.now
                try await stream.write([0x2A])
                _ = try await stream.read(exactly: 1)
                return (stream, [connected, negotiated])
            }
            let end = clock.now
            let elapsed = end - start
            if attempt >= warmup {
                cpu.append((BenchSupport.cpuSeconds() - cpuStart) * 1e3)
                samples.append(BenchSupport.seconds(elapsed) * 1e3)
                for (i, (from, to)) in zip([start] + marks, marks + [end]).enumerated() {
                    phases[i].append(BenchSupport.seconds(to - from) * 1e3)
                }
            }
            await stream.connection.close()
            // The next dial must be a new connection: wait until both sides dropped this one.
            // A server in another process cannot be asked: it gets 20 ms to see the FIN (below).
            let gone = await BenchSupport.eventually(.seconds(5)) {
                let clientSide = await client.existingConnection(to: peer)
                let serverSide = await server?.existingConnection(to: client.peerID)
                return clientSide == nil && serverSide == nil
            }
            guard gone else { throw BenchError("connection \(attempt + 1) was not dropped within 5 s") }
            if server == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        await client.shutdown()
        await server?.shutdown()
        try BenchSupport.printJSON([
            "dials": count, "p50_ms": BenchSupport.percentile(samples, 0.5), "p90_ms": BenchSupport.percentile(samples, 0.9),
            "p99_ms": BenchSupport.percentile(samples, 0.99), "mean_ms": BenchSupport.mean(samples),
            "min_ms": samples.min() ?? 0, "identify_on_connect": !noIdentify, "server": target == nil ? "same process" : "other process",
            "connect_p50_ms": BenchSupport.percentile(phases[0], 0.5),
            "negotiate_p50_ms": BenchSupport.percentile(phases[1], 0.5),
            "echo_p50_ms": BenchSupport.percentile(phases[2], 0.5),
            "cpu_ms_per_dial_p50": BenchSupport.percentile(cpu, 0.5),
        ])
    }
}

/// Many concurrent streams on one connection: each echoes a payload, checked byte for byte.
struct NetStreamsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net-streams",
        abstract: "Open N concurrent echo streams on one Swift→Swift connection and check every echo.")

    @Option(help: "Concurrent streams.") var streams: Int = 1000
    @Option(help: "Bytes echoed per stream.") var bytes: Int = 16 << 10
    @Option(help: "Full multiaddr of a remote echo server (default: a Swift host in this process).") var target: String?

    func validate() throws {
        guard streams > 0, bytes >= 0 else { throw ValidationError("--streams must be positive and --bytes not negative") }
        if let target, (try? Multiaddr(target))?.peerID == nil {
            throw ValidationError("--target \(target) is not a multiaddr ending in /p2p/<peer id>")
        }
    }

    func run() async throws {
        var server: Libp2p.Host?
        let address: Multiaddr
        if let target {
            address = try Multiaddr(target)
        } else {
            let local = try await BenchSupport.host()
            await local.setHandler(BenchSupport.echoProtocol) { await BenchSupport.serveEcho($0) }
            address = await local.fullAddresses[0]
            server = local
        }
        let client = try await BenchSupport.host()
        let peer = try await client.connect(to: address)
        guard let connection = await client.existingConnection(to: peer) else { throw BenchError("no connection to \(address) after dialling it") }
        let clock = ContinuousClock()
        let start = clock.now
        let size = bytes
        let outcomes = try await BenchSupport.bounded(.seconds(120), "\(streams) concurrent echo streams") {
            await withTaskGroup(of: (ok: Bool, ms: Double).self) { group in
                for index in 0..<streams {
                    group.addTask {
                        let begin = ContinuousClock.now
                        do {
                            let stream = try await client.newStream(to: peer, protocols: [BenchSupport.echoProtocol])
                            var payload = ByteBuffer()
                            for i in 0..<size { payload.writeInteger(UInt8(truncatingIfNeeded: i &* 31 &+ index)) }
                            try await stream.write(payload)
                            await stream.closeWrite()
                            let echo = try await stream.readToEnd(limit: size + 1)
                            let ms = BenchSupport.seconds(ContinuousClock.now - begin) * 1e3
                            return (echo == payload, ms)
                        } catch {
                            BenchSupport.log("stream \(index): \(error)")
                            return (false, 0)
                        }
                    }
                }
                var all: [(ok: Bool, ms: Double)] = []
                for await outcome in group { all.append(outcome) }
                return all
            }
        }
        let elapsed = BenchSupport.seconds(clock.now - start)
        let succeeded = outcomes.filter(\.ok)
        let connections = await client.connectedPeers.count
        let sameConnection = await client.existingConnection(to: peer) === connection
        await client.shutdown()
        await server?.shutdown()
        try BenchSupport.printJSON([
            "streams": streams, "bytes_per_stream": bytes, "succeeded": succeeded.count, "seconds": elapsed,
            "connections": connections, "one_connection": sameConnection,
            "stream_p50_ms": BenchSupport.percentile(succeeded.map(\.ms), 0.5),
            "stream_max_ms": succeeded.map(\.ms).max() ?? 0,
            "echoed_bytes_per_second": Double(succeeded.count * bytes * 2) / elapsed,
        ])
    }
}
