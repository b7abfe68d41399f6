/// A message id: the bytes that identify a pubsub message in the seen cache, the message cache and IHAVE/IWANT.
///
/// The default is `from ‖ seqno` (see ``GossipsubConfiguration/messageID``).
public struct MessageID: Hashable, Sendable, CustomStringConvertible {
    /// The id's bytes.
    public var bytes: [UInt8]

    /// Creates an id from its bytes.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Hashes the bytes in one call rather than byte by byte (ids key the seen cache, the message cache
    /// and the score's delivery records, each looked up for every copy of every message).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.count)
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// The default id of `message`: the author's binary peer id followed by the sequence number.
    public init(default message: PubsubMessage) {
        self.bytes = (message.from ?? []) + (message.seqno ?? [])
    }

    /// Lower-case hex.
    public var description: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
