/// The libp2p Noise handshake payload: the sender's identity key and its signature over
/// `"noise-libp2p-static-key:" ‖ Noise static public key`, and the stream muxers it offers
/// (`NoiseExtensions.stream_muxers`, the inlined muxer negotiation of libp2p's
/// connections/inlined-muxer-negotiation spec).
public struct NoiseHandshakePayload: Sendable, Equatable {
    /// The prefix of the signed message.
    public static let signaturePrefix = Array("noise-libp2p-static-key:".utf8)
    /// Field number of `extensions` in `NoiseHandshakePayload`.
    static let extensionsField = 4
    /// Field number of `stream_muxers` in `NoiseExtensions`.
    static let streamMuxersField = 2

    /// The identity key as a `PublicKey` protobuf.
    public var identityKey: [UInt8]
    /// The signature by the identity key.
    public var identitySignature: [UInt8]
    /// The stream muxers the sender offers, most preferred first; empty if it offers none (it then
    /// negotiates its muxer with multistream-select after the handshake).
    public var streamMuxers: [String]

    /// Creates a payload from its fields.
    public init(identityKey: [UInt8], identitySignature: [UInt8], streamMuxers: [String] = []) {
        self.identityKey = identityKey
        self.identitySignature = identitySignature
        self.streamMuxers = streamMuxers
    }

    /// Signs `staticKey` with `identity`.
    public init(identity: PrivateKey, staticKey: [UInt8]) {
        identityKey = identity.publicKey.protobufBytes
        identitySignature = identity.sign(Self.signaturePrefix + staticKey)
        streamMuxers = []
    }

    /// Decodes the `NoiseHandshakePayload` protobuf: fields 1 and 2, and the stream muxers of the
    /// extensions (field 4); other extensions (WebTransport certificate hashes) are skipped.
    public init(protobuf bytes: [UInt8]) throws(Libp2pError) {
        var reader = ProtobufReader(bytes)
        var key: [UInt8]?
        var sig: [UInt8]?
        var muxers: [String] = []
        while let field = try reader.next() {
            switch field.number {
            case 1: key = field.value.bytesValue
            case 2: sig = field.value.bytesValue
            case Self.extensionsField:
                guard case .bytes(let extensions) = field.value else { continue }
                // A message field sent twice is merged by protobuf's rules, so the lists of both add up.
                var inner = ProtobufReader(extensions)
                while let ext = try inner.next() {
                    guard ext.number == Self.streamMuxersField else { continue }
                    guard let muxer = ext.value.stringValue, !muxer.isEmpty else {
                        throw Libp2pError(.handshakeFailed, "Noise payload offers an empty or non-string stream muxer")
                    }
                    muxers.append(muxer)
                }
            default: continue
            }
        }
        guard let key, let sig else { throw Libp2pError(.handshakeFailed, "Noise payload lacks identity key or signature") }
        identityKey = key
        identitySignature = sig
        streamMuxers = muxers
    }

    /// The protobuf encoding.
    public var protobufBytes: [UInt8] {
        var w = ProtobufWriter()
        w.writeBytes(field: 1, identityKey)
        w.writeBytes(field: 2, identitySignature)
        return w.bytes + Self.extensionsBytes(streamMuxers: streamMuxers)
    }

    /// The `extensions` field offering `streamMuxers`, or nothing for none. Protobuf fields may follow in
    /// any order, so these bytes can be appended to an already encoded (and signed) payload.
    static func extensionsBytes(streamMuxers: [String]) -> [UInt8] {
        guard !streamMuxers.isEmpty else { return [] }
        var extensions = ProtobufWriter()
        for muxer in streamMuxers { extensions.writeString(field: streamMuxersField, muxer) }
        var w = ProtobufWriter()
        w.writeBytes(field: extensionsField, extensions.bytes)
        return w.bytes
    }

    /// Checks the signature over `staticKey` and returns the verified identity key.
    public func verify(staticKey: [UInt8]) throws(Libp2pError) -> PublicKey {
        try verify(staticKey: staticKey, knownGood: nil)
    }

    /// Checks the signature, skipping the check for a triple in `knownGood`.
    func verify(staticKey: [UInt8], knownGood: VerifiedSignatures?) throws(Libp2pError) -> PublicKey {
        let key: PublicKey
        do {
            key = try PublicKey(protobuf: identityKey)
        } catch {
            throw Libp2pError(.handshakeFailed, "Noise payload holds an invalid identity key", cause: error)
        }
        guard key.type == .ed25519 else {
            throw Libp2pError(.handshakeFailed, "remote identity key type \(key.type) is not supported (use Ed25519)")
        }
        let message = Self.signaturePrefix + staticKey
        let valid = knownGood?.verify(key, keyBytes: identityKey, signature: identitySignature, message: message)
            ?? key.verify(signature: identitySignature, for: message)
        guard valid else {
            throw Libp2pError(.handshakeFailed, "Noise payload signature does not match the static key")
        }
        return key
    }
}
