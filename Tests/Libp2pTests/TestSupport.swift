import Testing
import NIOCore
import Crypto
@testable import Libp2p

/// Shared helpers for network tests: hosts on 127.0.0.1, an echo protocol, bounded waits.
enum TestSupport {
    static let echoProtocol = "/meshfl/test/echo/1.0.0"
    /// Echo of a request that starts with its 8-byte big-endian length, answered once read in full
    /// (py-libp2p's mplex streams cannot half-close and are half-duplex).
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
            // Read the whole request, then answer: py-libp2p's mplex streams are half-duplex.
            do {
                let header = try await stream.read(exactly: 8)
                let size = Int(header.getInteger(at: header.readerIndex, as: UInt64.self)!)
                guard size <= 64 << 20 else { await stream.reset(); return }
                if size > 0 { try await stream.write(try await stream.read(exactly: size)) }
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
