public import Crypto
public import NIOCore

/// The Noise XX handshake (`Noise_XX_25519_ChaChaPoly_SHA256`, libp2p `/noise`) as a state machine with no I/O.
///
/// Messages are framed with a 2-byte big-endian length. The initiator sends `e`; the responder
/// answers `e, ee, s, es` with its signed payload; the initiator finishes with `s, se` and its payload.
/// Both sides check the remote identity signature; the initiator also checks the expected peer id.
///
/// ```swift
/// var hs = NoiseHandshake(role: .initiator, identity: key, expectedPeer: dialledID)
/// send(try hs.start())
/// let action = try hs.receive(&inbound)   // repeat until action.result != nil
/// ```
public struct NoiseHandshake: Sendable {
    /// Which side of the handshake this is.
    public enum Role: Sendable { case initiator, responder }

    /// The outcome of a completed handshake.
    public struct Result: Sendable {
        /// The verified remote identity.
        public var remotePeer: PeerID
        /// The remote identity key.
        public var remoteKey: PublicKey
        /// Cipher for what we send.
        public var sendCipher: NoiseCipherState
        /// Cipher for what we receive.
        public var receiveCipher: NoiseCipherState
        /// The stream muxers the remote offered in its payload, most preferred first; empty if none.
        public var remoteStreamMuxers: [String] = []
    }

    /// What to do after feeding bytes.
    public struct Action: Sendable {
        /// Bytes to send (possibly empty).
        public var output: ByteBuffer
        /// Set once the handshake is complete.
        public var result: Result?
    }

    /// Largest handshake or transport frame (2-byte length).
    public static let maxFrameLength = 65535

    private enum Step: Sendable { case start, awaitMessage2, awaitMessage1, awaitMessage3, done }

    private let role: Role
    private let credentials: NoiseCredentials
    private let ephemeralKey: Curve25519.KeyAgreement.PrivateKey
    private let expectedPeer: PeerID?
    private let knownSignatures: VerifiedSignatures?
    private var symmetric = NoiseSymmetricState()
    private var step: Step
    private var remoteEphemeral: Curve25519.KeyAgreement.PublicKey?
    /// Stream muxers offered in this side's payload (message 2 or 3), most preferred first; empty offers
    /// none. See ``ConnectionUpgradeStateMachine`` for how the offers of both sides pick the muxer.
    var streamMuxers: [String] = []

    /// This side's payload: the host's signed identity, then the muxers it offers, if any.
    private var payload: [UInt8] {
        streamMuxers.isEmpty ? credentials.payload
            : credentials.payload + NoiseHandshakePayload.extensionsBytes(streamMuxers: streamMuxers)
    }

    /// Creates a handshake. Keys may be fixed for tests; by default fresh ones are generated.
    public init(
        role: Role,
        identity: PrivateKey,
        expectedPeer: PeerID? = nil,
        staticKey: Curve25519.KeyAgreement.PrivateKey = .init(),
        ephemeralKey: Curve25519.KeyAgreement.PrivateKey = .init()
    ) {
        self.init(role: role, credentials: NoiseCredentials(identity: identity, staticKey: staticKey), expectedPeer: expectedPeer,
                  ephemeralKey: ephemeralKey)
    }

    /// A handshake with a host's reusable `credentials`; signatures in `knownSignatures` are not verified again.
    init(
        role: Role,
        credentials: NoiseCredentials,
        expectedPeer: PeerID? = nil,
        ephemeralKey: Curve25519.KeyAgreement.PrivateKey = .init(),
        knownSignatures: VerifiedSignatures? = nil
    ) {
        self.role = role
        self.credentials = credentials
        self.expectedPeer = expectedPeer
        self.ephemeralKey = ephemeralKey
        self.knownSignatures = knownSignatures
        self.step = role == .initiator ? .start : .awaitMessage1
    }

    /// The handshake hash so far (equal on both sides once complete).
    public var handshakeHash: [UInt8] { symmetric.handshakeHash }

    /// The initiator's first message (framed); empty for a responder.
    public mutating func start() -> ByteBuffer {
        guard role == .initiator, case .start = step else { return ByteBuffer() }
        let e = Array(ephemeralKey.publicKey.rawRepresentation)
        symmetric.mixHash(e)
        // Payload of message 1 is empty (and unencrypted); mixHash of the empty payload is still required.
        symmetric.mixHash([])
        step = .awaitMessage2
        return Self.frame(e)
    }

    /// Consumes a whole handshake frame from `buffer` if there is one.
    ///
    /// - Throws: ``Libp2pError/Code/handshakeFailed`` or ``Libp2pError/Code/peerIDMismatch``.
    public mutating func receive(_ buffer: inout ByteBuffer) throws(Libp2pError) -> Action {
        guard let frame = try Self.readFrame(from: &buffer) else { return Action(output: ByteBuffer(), result: nil) }
        switch step {
        case .awaitMessage1:
            guard frame.count >= 32 else { throw Libp2pError(.handshakeFailed, "Noise message 1 shorter than an ephemeral key") }
            let re = try Self.publicKey(Array(frame[0..<32]))
            remoteEphemeral = re
            symmetric.mixHash(Array(frame[0..<32]))
            _ = try symmetric.decryptAndHash(Array(frame[32...]))
            // Message 2: e, ee, s, es, payload.
            var out: [UInt8] = []
            let e = Array(ephemeralKey.publicKey.rawRepresentation)
            out += e
            symmetric.mixHash(e)
            symmetric.mixKey(try Self.dh(ephemeralKey, re))
            out += try symmetric.encryptAndHash(credentials.staticPublicKey)
            symmetric.mixKey(try Self.dh(credentials.staticKey, re))
            out += try symmetric.encryptAndHash(payload)
            step = .awaitMessage3
            return Action(output: Self.frame(out), result: nil)

        case .awaitMessage2:
            guard frame.count >= 32 + 48 + 16 else { throw Libp2pError(.handshakeFailed, "Noise message 2 too short (\(frame.count) bytes)") }
            let reBytes = Array(frame[0..<32])
            let re = try Self.publicKey(reBytes)
            symmetric.mixHash(reBytes)
            symmetric.mixKey(try Self.dh(ephemeralKey, re))
            let rsBytes = try symmetric.decryptAndHash(Array(frame[32..<80]))
            let rs = try Self.publicKey(rsBytes)
            symmetric.mixKey(try Self.dh(ephemeralKey, rs))
            let remotePayload = try NoiseHandshakePayload(protobuf: try symmetric.decryptAndHash(Array(frame[80...])))
            let remoteKey = try remotePayload.verify(staticKey: rsBytes, knownGood: knownSignatures)
            let remotePeer = remoteKey.peerID
            if let expectedPeer, expectedPeer != remotePeer {
                throw Libp2pError(.peerIDMismatch, "dialled \(expectedPeer) but the remote is \(remotePeer); check the /p2p/ part of the address")
            }
            // Message 3: s, se, payload.
            var out: [UInt8] = []
            out += try symmetric.encryptAndHash(credentials.staticPublicKey)
            symmetric.mixKey(try Self.dh(credentials.staticKey, re))
            out += try symmetric.encryptAndHash(payload)
            step = .done
            let (c1, c2) = symmetric.split()
            return Action(output: Self.frame(out), result: Result(remotePeer: remotePeer, remoteKey: remoteKey, sendCipher: c1,
                                                                  receiveCipher: c2, remoteStreamMuxers: remotePayload.streamMuxers))

        case .awaitMessage3:
            guard frame.count >= 48 + 16 else { throw Libp2pError(.handshakeFailed, "Noise message 3 too short (\(frame.count) bytes)") }
            let rsBytes = try symmetric.decryptAndHash(Array(frame[0..<48]))
            let rs = try Self.publicKey(rsBytes)
            guard let re = remoteEphemeral else { throw Libp2pError(.handshakeFailed, "internal: no remote ephemeral key") }
            _ = re
            symmetric.mixKey(try Self.dh(ephemeralKey, rs))
            let remotePayload = try NoiseHandshakePayload(protobuf: try symmetric.decryptAndHash(Array(frame[48...])))
            let remoteKey = try remotePayload.verify(staticKey: rsBytes, knownGood: knownSignatures)
            let remotePeer = remoteKey.peerID
            if let expectedPeer, expectedPeer != remotePeer {
                throw Libp2pError(.peerIDMismatch, "expected \(expectedPeer) but the remote is \(remotePeer)")
            }
            step = .done
            let (c1, c2) = symmetric.split()
            return Action(output: ByteBuffer(), result: Result(remotePeer: remotePeer, remoteKey: remoteKey, sendCipher: c2,
                                                               receiveCipher: c1, remoteStreamMuxers: remotePayload.streamMuxers))

        case .start, .done:
            throw Libp2pError(.handshakeFailed, "unexpected Noise handshake message")
        }
    }

    static func frame(_ bytes: [UInt8]) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(bytes.count + 2)
        out.writeInteger(UInt16(bytes.count))
        out.writeBytes(bytes)
        return out
    }

    /// Reads one 2-byte-length frame if fully buffered.
    static func readFrame(from buffer: inout ByteBuffer) throws(Libp2pError) -> [UInt8]? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) else { return nil }
        guard buffer.readableBytes >= 2 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 2)
        return buffer.readBytes(length: Int(length))
    }

    private static func publicKey(_ bytes: [UInt8]) throws(Libp2pError) -> Curve25519.KeyAgreement.PublicKey {
        do {
            return try Curve25519.KeyAgreement.PublicKey(rawRepresentation: bytes)
        } catch {
            throw Libp2pError(.handshakeFailed, "invalid X25519 public key", cause: error)
        }
    }

    private static func dh(_ local: Curve25519.KeyAgreement.PrivateKey, _ remote: Curve25519.KeyAgreement.PublicKey) throws(Libp2pError) -> [UInt8] {
        do {
            let secret = try local.sharedSecretFromKeyAgreement(with: remote)
            return secret.withUnsafeBytes { Array($0) }
        } catch {
            throw Libp2pError(.handshakeFailed, "X25519 key agreement failed (low-order point?)", cause: error)
        }
    }
}
