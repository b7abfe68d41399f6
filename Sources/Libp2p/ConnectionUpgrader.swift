import NIOCore

/// Turns a raw TCP connection into an authenticated, multiplexed one:
/// multistream-select → Noise XX → multistream-select → yamux or mplex.
///
/// The protocol logic is ``ConnectionUpgradeStateMachine``; this runs it over a ``TCPConnection``'s
/// async reads. A ``Host`` runs the same machine inside its channel pipeline instead
/// (``ConnectionHandler``), on the connection's event loop.
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
        /// The muxer was agreed in the Noise handshake payloads, not by multistream-select after it.
        var muxerAgreedInHandshake = false
        var leftover: ByteBuffer
    }

    let identity: PrivateKey
    /// Muxers in order of preference.
    let muxers: [String]

    /// Runs the upgrade on `connection`; `expectedPeer` is checked when dialling.
    func upgrade(_ connection: TCPConnection, isDialer: Bool, expectedPeer: PeerID?) async throws -> Result {
        var machine = ConnectionUpgradeStateMachine(isDialer: isDialer, identity: identity, expectedPeer: expectedPeer, muxers: muxers)
        connection.write(machine.start())
        var inbound = ByteBuffer()
        while true {
            let action = try machine.receive(&inbound)
            if action.output.readableBytes > 0 { connection.write(action.output) }
            if let result = action.result { return result }
            guard var more = try await connection.read() else {
                throw Libp2pError(.handshakeFailed, "connection closed during the connection upgrade")
            }
            inbound.append(adopting: &more)
        }
    }
}
