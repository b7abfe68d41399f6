import Testing
import NIOCore
import Crypto
@testable import Libp2p

/// Shared helpers for network tests: hosts on 127.0.0.1, an echo protocol, bounded waits.
enum TestSupport {
    static let echoProtocol = "/meshfl/test/echo/1.0.0"
    /// Echo of a request that starts with its 8-byte big-endian length (py-libp2p's mplex cannot half-close).
    static let framedEchoProtocol = "/meshfl/test/echo-framed/1.0.0"

    static func host(muxers: [String]? = nil, configure: (inout Host.Configuration) -> Void = { _ in }) async throws -> Host {
        var config = Host.Configuration()
        if let muxers { config.muxers = muxers }
        config.upgradeTimeout = .seconds(5)
        configure(&config)
        let host = Host(identity: .generate(), configuration: config)
        try await host.listen(on: [Multiaddr("/ip4/127.0.0.1/tcp/0")])
        await host.setHandler(echoProtocol) { stream in
            do {
                while let chunk = try await stream.read() { try await stream.write(chunk) }
            } catch {}
            await stream.closeWrite()
        }
        await host.setHandler(framedEchoProtocol) { stream in
            do {
                let header = try await stream.read(exactly: 8)
                var remaining = Int(header.getInteger(at: header.readerIndex, as: UInt64.self)!)
                while remaining > 0, var chunk = try await stream.read() {
                    if chunk.readableBytes > remaining { chunk = chunk.getSlice(at: chunk.readerIndex, length: remaining)! }
                    remaining -= chunk.readableBytes
                    try await stream.write(chunk)
                }
            } catch {}
            await stream.closeWrite()
        }
        return host
    }

    /// Deterministic pseudo-random bytes.
    static func payload(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        var out = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            out[i] = UInt8(truncatingIfNeeded: state)
        }
        return out
    }

    /// Sends `data` on an echo stream (writing and reading concurrently) and returns the SHA-256 of what came back.
    static func echo(_ data: [UInt8], to peer: PeerID, from host: Host) async throws -> (sent: [UInt8], received: [UInt8], count: Int) {
        let stream = try await host.newStream(to: peer, protocols: [echoProtocol])
        async let writer: Void = {
            var offset = 0
            while offset < data.count {
                let end = min(data.count, offset + 100_000)
                try await stream.write(ByteBuffer(bytes: data[offset..<end]))
                offset = end
            }
            await stream.closeWrite()
        }()
        var hasher = SHA256()
        var count = 0
        while let chunk = try await stream.read() {
            hasher.update(data: Array(chunk.readableBytesView))
            count += chunk.readableBytes
        }
        try await writer
        return (Array(SHA256.hash(data: data)), Array(hasher.finalize()), count)
    }

    /// Waits until `condition` holds, polling for at most `timeout`.
    static func eventually(_ timeout: Duration = .seconds(10), _ condition: @Sendable () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return await condition()
    }
}
