import Crypto

/// A libp2p public key: a key type and the type-specific key bytes, as in the `PublicKey` protobuf.
///
/// Ed25519 keys can verify signatures; RSA, secp256k1 and ECDSA keys are carried so their
/// peer ids can be derived, but verifying their signatures is not supported.
public struct PublicKey: Hashable, Sendable {
    /// The `KeyType` enum of the libp2p crypto protobuf.
    public enum KeyType: UInt64, Sendable {
        /// RSA (PKIX DER).
        case rsa = 0
        /// Ed25519 (32 raw bytes).
        case ed25519 = 1
        /// secp256k1 (33-byte compressed point).
        case secp256k1 = 2
        /// ECDSA (PKIX DER).
        case ecdsa = 3
    }

    /// The key type.
    public var type: KeyType
    /// The type-specific key bytes (field `Data`).
    public var data: [UInt8]

    /// Creates a public key from its type and raw bytes.
    ///
    /// - Throws: ``Libp2pError/Code/invalidKey`` if an Ed25519 key is not 32 bytes.
    public init(type: KeyType, data: [UInt8]) throws(Libp2pError) {
        if type == .ed25519, data.count != 32 {
            throw Libp2pError(.invalidKey, "an Ed25519 public key is 32 bytes, got \(data.count)")
        }
        if data.isEmpty { throw Libp2pError(.invalidKey, "empty public key") }
        self.type = type
        self.data = data
    }

    /// Decodes the `PublicKey` protobuf (`Type` = 1, `Data` = 2).
    public init(protobuf bytes: some Collection<UInt8>) throws(Libp2pError) {
        var reader = ProtobufReader(bytes)
        var type: KeyType?
        var data: [UInt8]?
        while let field = try reader.next() {
            switch field.number {
            case 1:
                guard let raw = field.value.varintValue else { throw Libp2pError(.invalidKey, "key type is not a varint") }
                guard let t = KeyType(rawValue: raw) else { throw Libp2pError(.invalidKey, "unknown key type \(raw)") }
                type = t
            case 2:
                guard let d = field.value.bytesValue else { throw Libp2pError(.invalidKey, "key data is not bytes") }
                data = d
            default:
                continue
            }
        }
        guard let type, let data else { throw Libp2pError(.invalidKey, "public key protobuf lacks type or data") }
        try self.init(type: type, data: data)
    }

    /// The `PublicKey` protobuf encoding (deterministic: `Type` then `Data`).
    public var protobufBytes: [UInt8] {
        var w = ProtobufWriter()
        w.writeVarint(field: 1, type.rawValue)
        w.writeBytes(field: 2, data)
        return w.bytes
    }

    /// The peer id this key identifies.
    public var peerID: PeerID { PeerID(publicKey: self) }

    /// Checks an Ed25519 signature over `message`.
    ///
    /// - Returns: `false` for a bad signature or a key type whose verification is not supported.
    public func verify(signature: some Collection<UInt8>, for message: some Collection<UInt8>) -> Bool {
        guard type == .ed25519,
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: data) else { return false }
        return key.isValidSignature(Array(signature), for: Array(message))
    }
}
