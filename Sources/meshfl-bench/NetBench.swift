import ArgumentParser
import Crypto
import Foundation
import Libp2p
import NIOCore

/// One-stream throughput over Noise + yamux between two Swift hosts on 127.0.0.1, alternated with a
/// raw TCP copy of the same bytes through the same transport (no security, no muxer).
struct NetThroughputBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net-throughput",
        abstract: "Swift↔Swift one-stream throughput over Noise+yamux vs raw TCP, both on 127.0.0.1.",
        discussion: """
            Each run copies --mib MiB; the runs alternate (raw, libp2p, raw, …) and the medians are reported, \
            with the CPU time (both ends, all threads) per byte, which a loaded machine disturbs less than wall time.
            """)

    @Option(help: "MiB copied per run.") var mib: Int = 512
    @Option(help: "Bytes per write call.") var chunk: Int = 1 << 20
    @Option(help: "Runs per side.") var repeats: Int = 3
    @Option(help: "Stream muxer: yamux or mplex.") var muxer: String = "yamux"

    func validate() throws {
        guard mib > 0, chunk > 0, repeats > 0 else { throw ValidationError("--mib, --chunk and --repeats must be positive") }
        guard ["yamux", "mplex"].contains(muxer) else { throw ValidationError("--muxer must be yamux or mplex, not \(muxer)") }
    }

    func run() async throws {
        let total = mib << 20
        let payload = BenchSupport.chunk(chunk)
        var raw: [Double] = []
        var p2p: [Double] = []
        var rawCPU: [Double] = []
        var p2pCPU: [Double] = []
        for attempt in 0..<repeats {
            var cpu = BenchSupport.cpuSeconds()
            raw.append(try await Self.rawTCP(total: total, chunk: payload))
            rawCPU.append((BenchSupport.cpuSeconds() - cpu) * 1e9 / Double(total))
            cpu = BenchSupport.cpuSeconds()
            p2p.append(try await Self.libp2p(total: total, chunk: payload, muxer: muxer))
            p2pCPU.append((BenchSupport.cpuSeconds() - cpu) * 1e9 / Double(total))
            BenchSupport.log("run \(attempt + 1): raw \(String(format: "%.2f", raw.last! / 1e9)) GB/s, libp2p \(String(format: "%.2f", p2p.last! / 1e9)) GB/s")
        }
        let rawMedian = BenchSupport.percentile(raw, 0.5)
        let p2pMedian = BenchSupport.percentile(p2p, 0.5)
        let rawCost = BenchSupport.percentile(rawCPU, 0.5)
        let cipher = Self.cipherCost(bytes: min(total, 256 << 20))
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let ceiling = Self.ceiling(rawCost: rawCost, seal: cipher.seal, open: cipher.open, cores: cores)
        BenchSupport.log(String(format: "cipher alone: seal %.3f ns/B, open %.3f ns/B; ceiling %.2f GB/s = %.3f x raw",
                                cipher.seal, cipher.open, ceiling / 1e9, ceiling / rawMedian))
        try BenchSupport.printJSON([
            "bytes": total, "chunk": chunk, "muxer": muxer,
            "raw_tcp_bytes_per_second": rawMedian, "libp2p_bytes_per_second": p2pMedian,
            "raw_tcp_runs": raw, "libp2p_runs": p2p, "ratio": p2pMedian / rawMedian,
            "raw_tcp_cpu_ns_per_byte": rawCost,
            "libp2p_cpu_ns_per_byte": BenchSupport.percentile(p2pCPU, 0.5),
            "cipher_seal_ns_per_byte": cipher.seal, "cipher_open_ns_per_byte": cipher.open,
            "cores": cores,
            "ceiling_bytes_per_second": ceiling, "ceiling_ratio": ceiling / rawMedian,
        ])
    }

    /// CPU nanoseconds per byte, on one thread, to seal and to open full Noise transport frames
    /// (65,519 plaintext bytes) with swift-crypto's ChaCha20-Poly1305: the least any Noise transport
    /// on its public API pays per byte, at each end, before framing, muxing or the socket.
    static func cipherCost(bytes: Int) -> (seal: Double, open: Double) {
        let frame = NoiseTransportWriter.maxPlaintext
        let frames = max(1, bytes / frame)
        // 256 distinct frames (16 MiB): more than the caches hold, as bytes fresh from a socket are.
        let distinct = min(frames, 256)
        let key = SymmetricKey(size: .bits256)
        let plaintexts = (0..<distinct).map { i in Data((0..<frame).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }) }
        var boxes: [ChaChaPoly.SealedBox] = []
        boxes.reserveCapacity(distinct)
        var start = BenchSupport.threadCPUSeconds()
        for n in 0..<frames {
            let box = try! ChaChaPoly.seal(plaintexts[n % distinct], using: key, nonce: NoiseCipherState.nonce(UInt64(n)))
            if boxes.count < distinct { boxes.append(box) }
        }
        let seal = (BenchSupport.threadCPUSeconds() - start) * 1e9 / Double(frames * frame)
        var opened = 0
        start = BenchSupport.threadCPUSeconds()
        for n in 0..<frames {
            opened &+= try! ChaChaPoly.open(boxes[n % distinct], using: key).count
        }
        let open = (BenchSupport.threadCPUSeconds() - start) * 1e9 / Double(frames * frame)
        precondition(opened == frames * frame, "a sealed frame did not open to its length")
        return (seal, open)
    }

    /// The most one stream could carry if the transport cost nothing but the cipher and the kernel's
    /// own per-byte work (`rawCost`, both ends, measured on the raw TCP copy): the sender seals, the
    /// receiver opens, each also paying about half the kernel's work, on at most `cores` cores.
    static func ceiling(rawCost: Double, seal: Double, open: Double, cores: Int) -> Double {
        let allWork = rawCost + seal + open
        let slowerEnd = max(seal, open) + rawCost / 2
        return min(Double(cores) / allWork, 1 / slowerEnd) * 1e9
    }

    /// Copies `total` bytes over one TCP connection of our transport; returns bytes per second.
    static func rawTCP(total: Int, chunk: ByteBuffer) async throws -> Double {
        let transport = TCPTransport()
        let listener = try await transport.listen(on: Multiaddr("/ip4/127.0.0.1/tcp/0")) { connection in
            Task {
                var received = 0
                while received < total + 8, let bytes = try? await connection.read() { received += bytes.readableBytes }
                var ack = ByteBuffer()
                ack.writeInteger(UInt64(received - 8))
                try? await connection.write(ack).get()
            }
        }
        let connection = try await transport.dial(listener.address, timeout: .seconds(5))
        let clock = ContinuousClock()
        let start = clock.now
        var header = ByteBuffer()
        header.writeInteger(UInt64(total))
        connection.write(header)
        var left = total
        while left > 0 {
            let n = min(left, chunk.readableBytes)
            try await connection.write(n == chunk.readableBytes ? chunk : chunk.getSlice(at: chunk.readerIndex, length: n)!).get()
            left -= n
        }
        var ack = ByteBuffer()
        while ack.readableBytes < 8, var bytes = try await connection.read() { ack.writeBuffer(&bytes) }
        let elapsed = BenchSupport.seconds(clock.now - start)
        connection.close()
        await listener.close()
        guard ack.readInteger(as: UInt64.self) == UInt64(total) else { throw BenchError("raw TCP sink acknowledged a different byte count") }
        return Double(total) / elapsed
    }

    /// Copies `total` bytes over one libp2p stream between two fresh hosts; returns bytes per second.
    static func libp2p(total: Int, chunk: ByteBuffer, muxer: String) async throws -> Double {
        var configuration = Libp2p.Host.Configuration()
        configuration.muxers = [muxer == "mplex" ? "/mplex/6.7.0" : "/yamux/1.0.0"]
        let server = try await BenchSupport.host(configuration: configuration)
        let client = try await BenchSupport.host(configuration: configuration)
        await server.setHandler(BenchSupport.sinkProtocol) { await BenchSupport.serveSink($0) }
        let stream = try await client.newStream(to: await server.fullAddresses[0], protocols: [BenchSupport.sinkProtocol])
        let clock = ContinuousClock()
        let start = clock.now
        let acknowledged = try await BenchSupport.sendToSink(stream, total: total, chunk: chunk)
        let elapsed = BenchSupport.seconds(clock.now - start)
        await client.shutdown()
        await server.shutdown()
        guard acknowledged == total else { throw BenchError("libp2p sink acknowledged \(acknowledged) of \(total) bytes") }
        return Double(total) / elapsed
    }
}

/// Sends bytes to a sink at a remote address (a py-libp2p peer in `make bench`).
struct NetSendBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net-send",
        abstract: "Dial a peer serving /meshfl/bench/sink/1.0.0 and measure one-stream throughput to it.")

    @Option(help: "Full multiaddr of the sink, /ip4/…/tcp/…/p2p/….") var target: String
    @Option(help: "MiB sent per run.") var mib: Int = 64
    @Option(help: "Bytes per write call.") var chunk: Int = 1 << 16
    @Option(help: "Runs, each on a fresh stream of the same connection.") var repeats: Int = 1

    func validate() throws {
        guard mib > 0, chunk > 0, repeats > 0 else { throw ValidationError("--mib, --chunk and --repeats must be positive") }
        guard (try? Multiaddr(target))?.peerID != nil else {
            throw ValidationError("--target \(target) is not a multiaddr ending in /p2p/<peer id>")
        }
    }

    func run() async throws {
        let address = try Multiaddr(target)
        let host = try await BenchSupport.host()
        let total = mib << 20
        let payload = BenchSupport.chunk(chunk)
        var rates: [Double] = []
        for _ in 0..<repeats {
            let stream = try await BenchSupport.bounded(.seconds(30), "opening a sink stream to \(target)") {
                try await host.newStream(to: address, protocols: [BenchSupport.sinkProtocol])
            }
            let clock = ContinuousClock()
            let start = clock.now
            let acknowledged = try await BenchSupport.bounded(.seconds(600), "sending \(mib) MiB to \(target)") {
                try await BenchSupport.sendToSink(stream, total: total, chunk: payload)
            }
            let elapsed = BenchSupport.seconds(clock.now - start)
            guard acknowledged == total else { throw BenchError("\(target) acknowledged \(acknowledged) of \(total) bytes") }
            rates.append(Double(total) / elapsed)
        }
        await host.shutdown()
        try BenchSupport.printJSON(["bytes": total, "chunk": chunk, "bytes_per_second": BenchSupport.percentile(rates, 0.5), "runs": rates])
    }
}

/// Serves the sink and echo protocols so that another peer can measure against us.
struct NetSinkBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net-sink",
        abstract: "Listen on 127.0.0.1, print 'ADDR <multiaddr>', serve the bench sink and echo until stdin closes.")

    @Option(help: "Seconds to serve at most.") var lifetime: Double = 600

    func run() async throws {
        let host = try await BenchSupport.host()
        await host.setHandler(BenchSupport.sinkProtocol) { await BenchSupport.serveSink($0) }
        await host.setHandler(BenchSupport.echoProtocol) { await BenchSupport.serveEcho($0) }
        BenchSupport.line("ADDR \(await host.fullAddresses[0])")
        // A blocking read, so on its own thread: async code runs on the event loops that serve the peers.
        let (stdinClosed, closed) = AsyncStream<Void>.makeStream()
        Thread {
            while let line = readLine(strippingNewline: false), !line.isEmpty {}
            closed.finish()
        }.start()
        _ = try? await BenchSupport.bounded(.seconds(lifetime), "serving") { for await _ in stdinClosed {} }
        await host.shutdown()
        try BenchSupport.printJSON(["served": true])
    }
}
