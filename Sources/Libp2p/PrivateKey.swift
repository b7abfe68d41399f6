import Crypto

/// An Ed25519 identity key, serialisable as a libp2p `PrivateKey` protobuf (the key file format).
///
/// ```swift
/// let key = PrivateKey.generate()
/// try key.write(toFile: "node.key")
/// let again = try PrivateKey(contentsOfFile: "node.key")
/// assert(again.peerID == key.peerID)
/// ```
public struct PrivateKey: Sendable {
    let signingKey: Curve25519.Signing.PrivateKey

    /// A new random Ed25519 key.
    public static func generate() -> PrivateKey {
        PrivateKey(signingKey: Curve25519.Signing.PrivateKey())
    }

    init(signingKey: Curve25519.Signing.PrivateKey) {
        self.signingKey = signingKey
    }

    /// A key from its 32-byte Ed25519 seed.
    public init(ed25519Seed seed: some Collection<UInt8>) throws(Libp2pError) {
        guard seed.count == 32 else { throw Libp2pError(.invalidKey, "an Ed25519 seed is 32 bytes, got \(seed.count)") }
        do {
            signingKey = try Curve25519.Signing.PrivateKey(rawRepresentation: Array(seed))
        } catch {
            throw Libp2pError(.invalidKey, "invalid Ed25519 seed", cause: error)
        }
    }

    /// Decodes the libp2p `PrivateKey` protobuf. Ed25519 data may be the 64-byte (seed ‖ public) form or the 32-byte seed.
    ///
    /// - Throws: ``Libp2pError/Code/invalidKey`` for other key types or inconsistent bytes.
    public init(protobuf bytes: some Collection<UInt8>) throws(Libp2pError) {
        var reader = ProtobufReader(bytes)
        var type: UInt64?
        var data: [UInt8]?
        while let field = try reader.next() {
            if field.number == 1 { type = field.value.varintValue }
            if field.number == 2 { data = field.value.bytesValue }
        }
        guard type == PublicKey.KeyType.ed25519.rawValue else {
            throw Libp2pError(.invalidKey, "only Ed25519 private keys are supported (type \(type.map(String.init) ?? "missing"))")
        }
        guard let data, data.count == 64 || data.count == 32 else {
            throw Libp2pError(.invalidKey, "Ed25519 private key data must be 32 or 64 bytes")
        }
        try self.init(ed25519Seed: data.prefix(32))
        if data.count == 64, Array(data[32...]) != publicKey.data {
            throw Libp2pError(.invalidKey, "Ed25519 private key's embedded public key does not match its seed")
        }
    }

    /// The 32-byte Ed25519 seed.
    public var seed: [UInt8] { Array(signingKey.rawRepresentation) }

    /// The public half.
    public var publicKey: PublicKey {
        // Force-try is safe: an Ed25519 public key is always 32 bytes.
        try! PublicKey(type: .ed25519, data: Array(signingKey.publicKey.rawRepresentation))
    }

    /// The peer id of this identity.
    public var peerID: PeerID { publicKey.peerID }

    /// The `PrivateKey` protobuf: type Ed25519, data = seed ‖ public key (64 bytes, as go-libp2p writes it).
    public var protobufBytes: [UInt8] {
        var w = ProtobufWriter()
        w.writeVarint(field: 1, PublicKey.KeyType.ed25519.rawValue)
        w.writeBytes(field: 2, seed + publicKey.data)
        return w.bytes
    }

    /// Signs `message` with Ed25519 (deterministic, 64 bytes).
    public func sign(_ message: some Collection<UInt8>) -> [UInt8] {
        // Signing with a valid key over in-memory bytes does not fail.
        Array(try! signingKey.signature(for: Array(message)))
    }
}
