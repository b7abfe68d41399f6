public import Libp2p

/// A pubsub `Message`: the payload a peer publishes to a topic, with its origin, sequence number and signature.
///
/// Fields are kept as raw bytes so a message re-encodes byte-for-byte as it was received.
///
/// ```swift
/// let message = PubsubMessage(from: key.peerID.bytes, data: Array("hi".utf8), seqno: seqno, topic: "jobs")
/// let signed = message.signed(with: key)
/// ```
public struct PubsubMessage: Hashable, Sendable {
    /// The binary peer id of the author (field 1).
    public var from: [UInt8]?
    /// The payload (field 2).
    public var data: [UInt8]
    /// The author's sequence number, 8 bytes big-endian (field 3).
    public var seqno: [UInt8]?
    /// The topic (field 4).
    public var topic: String
    /// The StrictSign signature (field 5).
    public var signature: [UInt8]?
    /// The author's public key protobuf, only when it cannot be recovered from `from` (field 6).
    public var key: [UInt8]?

    /// Creates a message.
    public init(
        from: [UInt8]? = nil, data: [UInt8], seqno: [UInt8]? = nil, topic: String,
        signature: [UInt8]? = nil, key: [UInt8]? = nil
    ) {
        self.from = from
        self.data = data
        self.seqno = seqno
        self.topic = topic
        self.signature = signature
        self.key = key
    }

    /// The author as a ``PeerID``, or `nil` if `from` is absent or not a valid peer id.
    public var author: PeerID? {
        guard let from else { return nil }
        return try? PeerID(bytes: from)
    }

    /// The protobuf encoding; `signingForm` leaves out `signature` and `key` (what StrictSign signs).
    func encoded(signingForm: Bool = false) -> [UInt8] {
        var w = ProtobufWriter()
        if let from { w.writeBytes(field: 1, from) }
        w.writeBytes(field: 2, data)
        if let seqno { w.writeBytes(field: 3, seqno) }
        w.writeString(field: 4, topic)
        if !signingForm {
            if let signature { w.writeBytes(field: 5, signature) }
            if let key { w.writeBytes(field: 6, key) }
        }
        return w.bytes
    }

    /// The protobuf encoding of the whole message.
    public var protobufBytes: [UInt8] { encoded() }

    /// Decodes a `Message` protobuf.
    ///
    /// - Throws: ``GossipsubError/Code/malformed`` on invalid bytes or a missing topic.
    public init(protobuf bytes: some Collection<UInt8>) throws(GossipsubError) {
        var r = ProtobufReader(bytes)
        var topic: String?
        self.init(data: [], topic: "")
        do {
            while let field = try r.next() {
                switch (field.number, field.value) {
                case (1, .bytes(let b)): from = Array(b)
                case (2, .bytes(let b)): data = Array(b)
                case (3, .bytes(let b)): seqno = Array(b)
                case (4, .bytes(let b)): topic = String(decoding: b, as: UTF8.self)
                case (5, .bytes(let b)): signature = Array(b)
                case (6, .bytes(let b)): key = Array(b)
                case (1...6, _): throw GossipsubError(.malformed, "message field \(field.number) has the wrong wire type")
                default: continue
                }
            }
        } catch let error as GossipsubError {
            throw error
        } catch {
            throw GossipsubError(.malformed, "message protobuf does not decode", cause: error)
        }
        guard let topic else { throw GossipsubError(.malformed, "message has no topic") }
        self.topic = topic
    }
}
