import NIOCore
import Logging

/// Turns a raw TCP connection into an authenticated, multiplexed one:
/// multistream-select → Noise XX → multistream-select → yamux or mplex.
struct ConnectionUpgrader: Sendable {
    /// Protocol id of the Noise secure channel.
    static let noiseProtocol = "/noise"
    /// Protocol id of yamux.
    static let yamuxProtocol = "/yamux/1.0.0"
    /// Protocol id of mplex.
    static let mplexProtocol = "/mplex/6.7.0"

    struct Result: Sendable {
        var remotePeer: PeerID
        var remoteKey: PublicKey
        var reader: NoiseTransportReader
        var writer: NoiseTransportWriter
        var muxerProtocol: String
        var leftover: ByteBuffer
    }

    let identity: PrivateKey
    /// Muxers in order of preference.
    let muxers: [String]

    /// Runs the upgrade on `connection`; `expectedPeer` is checked when dialling.
    func upgrade(_ connection: TCPConnection, isDialer: Bool, expectedPeer: PeerID?) async throws -> Result {
        // 1. Negotiate the security protocol on the raw socket.
        var raw = ByteBuffer()
        var security = isDialer
            ? MultistreamStateMachine(dialerProposing: [Self.noiseProtocol])
            : MultistreamStateMachine(listenerSupporting: [Self.noiseProtocol])
        connection.write(security.start())
        while true {
            let action = try security.receive(&raw)
            if action.output.readableBytes > 0 { connection.write(action.output) }
            if action.selected != nil { break }
            guard var more = try await connection.read() else {
                throw Libp2pError(.protocolViolation, "connection closed during security negotiation")
            }
            raw.writeBuffer(&more)
        }

        // 2. Noise XX.
        var handshake = NoiseHandshake(role: isDialer ? .initiator : .responder, identity: identity, expectedPeer: expectedPeer)
        let first = handshake.start()
        if first.readableBytes > 0 { connection.write(first) }
        var outcome: NoiseHandshake.Result?
        while outcome == nil {
            let action = try handshake.receive(&raw)
            if action.output.readableBytes > 0 { connection.write(action.output) }
            if let result = action.result { outcome = result; break }
            guard var more = try await connection.read() else {
                throw Libp2pError(.handshakeFailed, "connection closed during the Noise handshake")
            }
            raw.writeBuffer(&more)
        }
        guard let secured = outcome else { throw Libp2pError(.handshakeFailed, "Noise handshake did not finish") }

        // 3. Negotiate the muxer over the secure channel.
        var reader = NoiseTransportReader(cipher: secured.receiveCipher, raw: raw)
        var writer = NoiseTransportWriter(cipher: secured.sendCipher)
        var plain = ByteBuffer()
        var muxer = isDialer
            ? MultistreamStateMachine(dialerProposing: muxers)
            : MultistreamStateMachine(listenerSupporting: muxers)
        connection.write(try writer.seal(muxer.start()))
        var selected: String?
        while selected == nil {
            let action = try muxer.receive(&plain)
            if action.output.readableBytes > 0 { connection.write(try writer.seal(action.output)) }
            if let s = action.selected { selected = s; break }
            guard var more = try await reader.read(from: connection) else {
                throw Libp2pError(.protocolViolation, "connection closed during muxer negotiation")
            }
            plain.writeBuffer(&more)
        }
        return Result(remotePeer: secured.remotePeer, remoteKey: secured.remoteKey, reader: reader, writer: writer,
                      muxerProtocol: selected!, leftover: plain)
    }
}
