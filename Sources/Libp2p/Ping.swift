import NIOCore

/// The ping protocol `/ipfs/ping/1.0.0`: the dialer sends 32 random bytes, the listener echoes them.
public enum Ping {
    /// Protocol id of ping.
    public static let protocolID = "/ipfs/ping/1.0.0"
    /// Bytes per ping.
    public static let payloadLength = 32

    /// Echoes 32-byte pings until the stream ends.
    static func serve(_ stream: P2PStream) async {
        do {
            while true {
                let payload = try await stream.read(exactly: payloadLength)
                try await stream.write(payload)
            }
        } catch {
            await stream.closeWrite()
        }
    }

    /// Pings `peer` `count` times on one stream; returns the round-trip times.
    ///
    /// - Throws: ``Libp2pError/Code/protocolViolation`` if an echo differs.
    public static func ping(_ peer: PeerID, on host: Host, count: Int = 1, timeout: Duration = .seconds(10)) async throws -> [Duration] {
        let stream = try await host.newStream(to: peer, protocols: [protocolID])
        defer { Task { await stream.closeWrite() } }
        var rtts: [Duration] = []
        for _ in 0..<max(1, count) {
            let payload = (0..<payloadLength).map { _ in UInt8.random(in: 0...255) }
            let start = ContinuousClock.now
            let echo = try await withTimeout(timeout, "ping") {
                try await stream.write(payload)
                return try await stream.read(exactly: payloadLength)
            }
            guard Array(echo.readableBytesView) == payload else {
                throw Libp2pError(.protocolViolation, "ping echo from \(peer) does not match")
            }
            rtts.append(ContinuousClock.now - start)
        }
        return rtts
    }
}
