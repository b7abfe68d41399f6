import Foundation
import Libp2p
import Logging
import NIOCore

/// Helpers shared by the network benchmarks: JSON output, percentiles, bounded waits, and the
/// `/meshfl/bench/sink/1.0.0` and `/meshfl/bench/echo/1.0.0` protocols (bench/py_libp2p_peer.py
/// speaks the same two).
enum BenchSupport {
    /// The sink: the sender writes an 8-byte big-endian length and that many bytes; the sink reads
    /// them all and answers with the 8-byte count it received.
    static let sinkProtocol = "/meshfl/bench/sink/1.0.0"
    /// The echo: every byte read is written back until the remote half-closes.
    static let echoProtocol = "/meshfl/bench/echo/1.0.0"

    /// Prints `object` as one sorted-key JSON line on standard output.
    static func printJSON(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        line(String(decoding: data, as: UTF8.self))
    }

    /// Writes `text` and a newline to standard output at once (unbuffered, for a parent reading lines).
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// Progress and diagnostics go to standard error, so the last stdout line stays the JSON result.
    static func log(_ message: String) {
        FileHandle.standardError.write(Data(("meshfl-bench: " + message + "\n").utf8))
    }

    /// A logger that only reports problems (benchmarks create many hosts).
    static var quietLogger: Logger {
        var logger = Logger(label: "meshfl.bench")
        logger.logLevel = .error
        return logger
    }

    /// A listening host on an ephemeral 127.0.0.1 port.
    static func host(configuration: Libp2p.Host.Configuration = .init()) async throws -> Libp2p.Host {
        let host = Libp2p.Host(identity: .generate(), configuration: configuration, logger: quietLogger)
        try await host.listen(on: [Multiaddr("/ip4/127.0.0.1/tcp/0")])
        return host
    }

    /// `duration` in seconds.
    static func seconds(_ duration: Duration) -> Double {
        let (s, atto) = duration.components
        return Double(s) + Double(atto) / 1e18
    }

    /// The `p`-quantile (0…1) of `values` by nearest rank; 0 for an empty list.
    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = Int((p * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    /// CPU seconds (user + system) this process has used so far, over all threads.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return user + system
    }

    /// CPU seconds the calling thread has used so far.
    static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// The arithmetic mean; 0 for an empty list.
    static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }

    /// Rounds to `digits` decimals for readable JSON.
    static func round(_ value: Double, _ digits: Int = 3) -> Double {
        let scale = pow(10, Double(digits))
        return (value * scale).rounded() / scale
    }

    /// Runs `body`, failing with a message naming `what` if it takes longer than `limit`.
    static func bounded<T: Sendable>(_ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        // An event-loop timer (Libp2p's withTimeout), not a racing Task.sleep: a Dispatch timer per dial
        // would add its own thread wake-ups to the time being measured.
        try await withTimeout(limit, what, body)
    }

    /// Polls `condition` every 20 ms for at most `limit`; returns whether it became true.
    static func eventually(_ limit: Duration, _ condition: () async -> Bool) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while clock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return await condition()
    }

    /// A reusable payload chunk of `size` pseudo-random bytes.
    static func chunk(_ size: Int) -> ByteBuffer {
        var generator = SystemRandomNumberGenerator()
        var buffer = ByteBuffer()
        buffer.reserveCapacity(size)
        for _ in 0..<(size / 8) { buffer.writeInteger(generator.next() as UInt64) }
        while buffer.readableBytes < size { buffer.writeInteger(UInt8.random(in: 0...255)) }
        return buffer
    }

    // MARK: Protocols

    /// Serves the sink protocol on `stream`.
    static func serveSink(_ stream: P2PStream) async {
        do {
            var header = try await stream.read(exactly: 8)
            let expected = header.readInteger(as: UInt64.self)!
            var received: UInt64 = 0
            while received < expected, let chunk = try await stream.read() {
                received += UInt64(chunk.readableBytes)
            }
            var ack = ByteBuffer()
            ack.writeInteger(received)
            try await stream.write(ack)
            await stream.closeWrite()
        } catch {
            await stream.reset()
        }
    }

    /// Sends `total` bytes to a sink over `stream` in `chunk`-sized writes; returns the acknowledged count.
    static func sendToSink(_ stream: P2PStream, total: Int, chunk: ByteBuffer) async throws -> Int {
        var header = ByteBuffer()
        header.writeInteger(UInt64(total))
        try await stream.write(header)
        var left = total
        while left > 0 {
            let n = min(left, chunk.readableBytes)
            try await stream.write(n == chunk.readableBytes ? chunk : chunk.getSlice(at: chunk.readerIndex, length: n)!)
            left -= n
        }
        var ack = try await stream.read(exactly: 8)
        await stream.closeWrite()
        return Int(ack.readInteger(as: UInt64.self)!)
    }

    /// Serves the echo protocol on `stream`.
    static func serveEcho(_ stream: P2PStream) async {
        do {
            while let chunk = try await stream.read() { try await stream.write(chunk) }
            await stream.closeWrite()
        } catch {
            await stream.reset()
        }
    }
}

/// A benchmark that could not run, with what went wrong.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
