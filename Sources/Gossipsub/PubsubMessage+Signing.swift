public import Libp2p

extension PubsubMessage {
    /// The prefix StrictSign puts before the signed message bytes.
    public static let signingPrefix: [UInt8] = Array("libp2p-pubsub:".utf8)

    /// The bytes StrictSign signs: the prefix and the message protobuf holding only from, data, seqno, topic.
    public var signingBytes: [UInt8] { Self.signingPrefix + encoded(signingForm: true) }

    /// A copy authored and signed by `key`: `from` set to its peer id, `signature` set, and `key` set
    /// only when the peer id does not embed the public key.
    public func signed(with key: PrivateKey) -> PubsubMessage {
        var message = self
        let id = key.peerID
        message.from = id.bytes
        message.key = id.publicKey == nil ? key.publicKey.protobufBytes : nil
        message.signature = key.sign(message.signingBytes)
        return message
    }

    /// Checks the StrictSign rules: `from`, `seqno` and `signature` present, the key (embedded in `from` or
    /// carried in `key`) matches `from`, and the signature verifies.
    ///
    /// - Throws: ``GossipsubError/Code/missingField`` or ``GossipsubError/Code/invalidSignature``.
    public func verifySignature() throws(GossipsubError) {
        guard let from else { throw GossipsubError(.missingField, "signed message has no 'from'") }
        guard let seqno, !seqno.isEmpty else { throw GossipsubError(.missingField, "signed message has no seqno") }
        _ = seqno
        guard let signature else { throw GossipsubError(.missingField, "signed message has no signature") }
        let author: PeerID
        do { author = try PeerID(bytes: from) } catch {
            throw GossipsubError(.invalidSignature, "'from' is not a peer id", cause: error)
        }
        let publicKey: PublicKey
        if let key {
            do { publicKey = try PublicKey(protobuf: key) } catch {
                throw GossipsubError(.invalidSignature, "'key' is not a public key protobuf", cause: error)
            }
            guard author.matches(publicKey) else {
                throw GossipsubError(.invalidSignature, "'key' does not belong to 'from' \(author)")
            }
        } else if let embedded = author.publicKey {
            publicKey = embedded
        } else {
            throw GossipsubError(.missingField, "'from' \(author) does not embed its key and 'key' is absent")
        }
        guard publicKey.verify(signature: signature, for: signingBytes) else {
            throw GossipsubError(.invalidSignature, "signature by \(author) does not verify")
        }
    }
}
