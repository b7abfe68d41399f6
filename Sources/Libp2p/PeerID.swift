import Crypto

/// A libp2p peer id: the multihash of a peer's `PublicKey` protobuf.
///
/// Keys whose protobuf is at most 42 bytes (Ed25519, secp256k1) use the identity multihash, so the
/// key can be recovered from the id; larger keys (RSA) use sha2-256. The text form is base58btc
/// (`12D3KooW…`, `Qm…`); the CIDv1 form (`bafz…`, codec libp2p-key) is parsed too.
///
/// ```swift
/// let id = try PeerID(string: "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA")
/// print(id, id.publicKey?.type as Any)
/// ```
public struct PeerID: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// Multihash code of the identity hash.
    static let identityCode: UInt64 = 0x00
    /// Multihash code of sha2-256.
    static let sha256Code: UInt64 = 0x12
    /// Multicodec of libp2p-key, used in the CID form.
    static let libp2pKeyCodec: UInt64 = 0x72

    /// The multihash bytes (the binary peer id, as in multiaddr `/p2p/` and identify).
    public let bytes: [UInt8]

    /// Hashes the bytes in one call (the synthesized form feeds the hasher byte by byte, and peer ids key
    /// the dictionaries of every router and connection table).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.count)
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// The peer id of `publicKey`.
    public init(publicKey: PublicKey) {
        let encoded = publicKey.protobufBytes
        var mh: [UInt8] = []
        if encoded.count <= 42 {
            UVarint.encode(Self.identityCode, into: &mh)
            UVarint.encode(UInt64(encoded.count), into: &mh)
            mh += encoded
        } else {
            UVarint.encode(Self.sha256Code, into: &mh)
            UVarint.encode(32, into: &mh)
            mh += Array(SHA256.hash(data: encoded))
        }
        self.bytes = mh
    }

    /// A peer id from its binary multihash.
    ///
    /// - Throws: ``Libp2pError/Code/invalidPeerID`` unless it is an identity multihash of a public key or a sha2-256 multihash.
    public init(bytes: some Collection<UInt8>) throws(Libp2pError) {
        let all = Array(bytes)
        var offset = 0
        let code: UInt64
        let length: UInt64
        do {
            code = try UVarint.decodeComplete(all[...], offset: &offset)
            length = try UVarint.decodeComplete(all[...], offset: &offset)
        } catch {
            throw Libp2pError(.invalidPeerID, "peer id is not a multihash", cause: error)
        }
        guard length == UInt64(all.count - offset) else {
            throw Libp2pError(.invalidPeerID, "multihash length \(length) does not match \(all.count - offset) digest bytes")
        }
        switch code {
        case Self.identityCode:
            guard length <= 42 else { throw Libp2pError(.invalidPeerID, "identity peer id longer than 42 bytes") }
            do {
                _ = try PublicKey(protobuf: all[offset...])
            } catch {
                throw Libp2pError(.invalidPeerID, "identity peer id does not hold a public key", cause: error)
            }
        case Self.sha256Code:
            guard length == 32 else { throw Libp2pError(.invalidPeerID, "sha2-256 peer id digest must be 32 bytes") }
        default:
            throw Libp2pError(.invalidPeerID, "unsupported multihash code 0x\(String(code, radix: 16)) in peer id")
        }
        self.bytes = all
    }

    /// Parses base58btc (`12D3KooW…`, `Qm…`) or a CIDv1 (`b…` base32, codec libp2p-key).
    public init(string: String) throws(Libp2pError) {
        guard let first = string.first else { throw Libp2pError(.invalidPeerID, "empty peer id") }
        if first == "1" || first == "Q" {
            do {
                try self.init(bytes: try Multibase.base58Decode(string))
            } catch {
                throw Libp2pError(.invalidPeerID, "'\(string)' is not a base58 peer id", cause: error)
            }
            return
        }
        let cid: [UInt8]
        do {
            switch first {
            case "b", "B": cid = try Multibase.base32Decode(String(string.dropFirst()))
            case "z": cid = try Multibase.base58Decode(String(string.dropFirst()))
            default: throw Libp2pError(.invalidPeerID, "unknown multibase prefix '\(first)'")
            }
        } catch {
            throw Libp2pError(.invalidPeerID, "'\(string)' is not a peer id", cause: error)
        }
        var offset = 0
        let version = try UVarint.decodeComplete(cid[...], offset: &offset)
        let codec = try UVarint.decodeComplete(cid[...], offset: &offset)
        guard version == 1, codec == Self.libp2pKeyCodec else {
            throw Libp2pError(.invalidPeerID, "CID '\(string)' is not a CIDv1 with codec libp2p-key")
        }
        try self.init(bytes: cid[offset...])
    }

    /// The public key embedded in an identity peer id, or `nil` for hashed ids.
    public var publicKey: PublicKey? {
        guard bytes.first == 0 else { return nil }
        var offset = 0
        guard (try? UVarint.decodeComplete(bytes[...], offset: &offset)) != nil,
              (try? UVarint.decodeComplete(bytes[...], offset: &offset)) != nil else { return nil }
        return try? PublicKey(protobuf: bytes[offset...])
    }

    /// Whether `key` is the key this id names.
    public func matches(_ key: PublicKey) -> Bool { PeerID(publicKey: key) == self }

    /// base58btc text form.
    public var description: String { Multibase.base58Encode(bytes) }

    /// CIDv1 text form (`bafz…`): multibase base32, codec libp2p-key.
    public var cidString: String {
        var cid: [UInt8] = []
        UVarint.encode(1, into: &cid)
        UVarint.encode(Self.libp2pKeyCodec, into: &cid)
        return "b" + Multibase.base32Encode(cid + bytes)
    }

    /// Orders by bytes (used to break simultaneous-dial ties).
    public static func < (lhs: PeerID, rhs: PeerID) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}
