/// The libp2p Noise handshake payload: the sender's identity key and its signature over
/// `"noise-libp2p-static-key:" ‖ Noise static public key`.
public struct NoiseHandshakePayload: Sendable, Equatable {
    /// The prefix of the signed message.
    public static let signaturePrefix = Array("noise-libp2p-static-key:".utf8)

    /// The identity key as a `PublicKey` protobuf.
    public var identityKey: [UInt8]
    /// The signature by the identity key.
    public var identitySignature: [UInt8]

    /// Creates a payload from its fields.
    public init(identityKey: [UInt8], identitySignature: [UInt8]) {
        self.identityKey = identityKey
        self.identitySignature = identitySignature
    }

    /// Signs `staticKey` with `identity`.
    public init(identity: PrivateKey, staticKey: [UInt8]) {
        identityKey = identity.publicKey.protobufBytes
        identitySignature = identity.sign(Self.signaturePrefix + staticKey)
    }

    /// Decodes the `NoiseHandshakePayload` protobuf (fields 1 and 2; extensions are ignored).
    public init(protobuf bytes: [UInt8]) throws(Libp2pError) {
        var reader = ProtobufReader(bytes)
        var key: [UInt8]?
        var sig: [UInt8]?
        while let field = try reader.next() {
            if field.number == 1 { key = field.value.bytesValue }
            if field.number == 2 { sig = field.value.bytesValue }
        }
        guard let key, let sig else { throw Libp2pError(.handshakeFailed, "Noise payload lacks identity key or signature") }
        identityKey = key
        identitySignature = sig
    }

    /// The protobuf encoding.
    public var protobufBytes: [UInt8] {
        var w = ProtobufWriter()
        w.writeBytes(field: 1, identityKey)
        w.writeBytes(field: 2, identitySignature)
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
