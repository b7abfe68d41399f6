/// A peer record (RFC 0003) in a signed envelope (RFC 0002): a peer's addresses, signed by the peer.
///
/// Peers send their own record in identify (field 8, `signedPeerRecord`) and pass others' on in
/// gossipsub peer exchange, so a peer learned second-hand can be dialled with addresses it vouched for.
///
/// ```swift
/// let sealed = SignedPeerRecord(peer: key.peerID, seq: 1, addresses: addrs).sealed(with: key)
/// let record = try SignedPeerRecord(envelope: sealed)   // verifies the signature
/// ```
public struct SignedPeerRecord: Sendable, Equatable {
    /// The envelope's signature domain for peer records.
    public static let domain = Array("libp2p-peer-record".utf8)
    /// The multicodec of a peer record payload (`libp2p-peer-record`, 0x0301) as the envelope carries it.
    public static let payloadType: [UInt8] = [0x03, 0x01]
    /// Largest envelope accepted.
    public static let maxSize = 8 * 1024

    /// Whose addresses these are.
    public var peer: PeerID
    /// Increases with every new record of the same peer; the higher one wins.
    public var seq: UInt64
    /// The peer's dialable addresses (without `/p2p/`).
    public var addresses: [Multiaddr]

    /// Creates an unsigned record.
    public init(peer: PeerID, seq: UInt64, addresses: [Multiaddr]) {
        self.peer = peer
        self.seq = seq
        self.addresses = addresses
    }

    /// Decodes a signed envelope and checks it: the payload type, the signature by the envelope's key
    /// over the domain-separated payload, and that the key is the record's peer.
    ///
    /// - Throws: ``Libp2pError/Code/invalidKey`` for a bad signature or a key that is not the record's
    ///   peer, ``Libp2pError/Code/protocolViolation`` for bytes that are not an envelope of a peer record.
    public init(envelope bytes: [UInt8]) throws(Libp2pError) {
        guard bytes.count <= Self.maxSize else {
            throw Libp2pError(.protocolViolation, "signed peer record of \(bytes.count) bytes exceeds \(Self.maxSize)")
        }
        var keyBytes: [UInt8]?, type: [UInt8]?, payload: [UInt8]?, signature: [UInt8]?
        var reader = ProtobufReader(bytes)
        while let field = try reader.next() {
            switch field.number {
            case 1: keyBytes = field.value.bytesValue
            case 2: type = field.value.bytesValue
            case 3: payload = field.value.bytesValue
            case 5: signature = field.value.bytesValue
            default: continue
            }
        }
        guard let keyBytes, let payload, let signature, type == Self.payloadType else {
            throw Libp2pError(.protocolViolation, "envelope lacks a key, a signature or a peer record payload")
        }
        let key = try PublicKey(protobuf: keyBytes)
        guard key.verify(signature: signature, for: Self.signedBytes(payload)) else {
            throw Libp2pError(.invalidKey, "peer record signature does not verify")
        }
        var peerBytes: [UInt8]?, seq: UInt64 = 0, addresses: [Multiaddr] = []
        var inner = ProtobufReader(payload)
        while let field = try inner.next() {
            switch field.number {
            case 1: peerBytes = field.value.bytesValue
            case 2: seq = field.value.varintValue ?? 0
            case 3:
                // AddressInfo { bytes multiaddr = 1; }
                var info = ProtobufReader(field.value.bytesValue ?? [])
                while let sub = try info.next() {
                    if sub.number == 1, let raw = sub.value.bytesValue, let address = try? Multiaddr(bytes: raw) {
                        addresses.append(address)
                    }
                }
            default: continue
            }
        }
        guard let peerBytes else { throw Libp2pError(.protocolViolation, "peer record has no peer id") }
        let peer = try PeerID(bytes: peerBytes)
        guard peer.matches(key) else {
            throw Libp2pError(.invalidKey, "peer record of \(peer) is signed by another key")
        }
        self.init(peer: peer, seq: seq, addresses: addresses)
    }

    /// The record's payload protobuf.
    var payloadBytes: [UInt8] {
        var w = ProtobufWriter()
        w.writeBytes(field: 1, peer.bytes)
        w.writeVarint(field: 2, seq)
        for address in addresses {
            var info = ProtobufWriter()
            info.writeBytes(field: 1, address.withoutPeerID.bytes)
            w.writeBytes(field: 3, info.bytes)
        }
        return w.bytes
    }

    /// The signed envelope of this record, signed by `key` (which must be the record's peer).
    public func sealed(with key: PrivateKey) -> [UInt8] {
        let payload = payloadBytes
        var w = ProtobufWriter()
        w.writeBytes(field: 1, key.publicKey.protobufBytes)
        w.writeBytes(field: 2, Self.payloadType)
        w.writeBytes(field: 3, payload)
        w.writeBytes(field: 5, key.sign(Self.signedBytes(payload)))
        return w.bytes
    }

    /// What the envelope signature covers: domain, payload type and payload, each uvarint-length-prefixed.
    static func signedBytes(_ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for part in [domain, payloadType, payload] {
            UVarint.encode(UInt64(part.count), into: &out)
            out += part
        }
        return out
    }
}
