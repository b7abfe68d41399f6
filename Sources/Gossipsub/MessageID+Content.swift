import Crypto

extension MessageID {
    /// A content-addressed id: the standard base64 text of SHA-256(`message.data`), as py-libp2p's
    /// `ContentAddressedMessageIDGenerator` makes it.
    ///
    /// Every router of a topic must use the same id function, or IHAVE/IWANT and the seen cache disagree.
    /// Content ids also drop re-publications of identical data, which suits announcements.
    ///
    /// ```swift
    /// var config = GossipsubConfiguration()
    /// config.messageID = { MessageID(contentOf: $0) }
    /// ```
    public init(contentOf message: PubsubMessage) {
        self.init(Self.base64(Array(SHA256.hash(data: message.data))))
    }

    /// RFC 4648 base64 with padding, as ASCII bytes.
    static func base64(_ bytes: [UInt8]) -> [UInt8] {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var chunk = UInt32(bytes[i]) << 16
            if n > 1 { chunk |= UInt32(bytes[i + 1]) << 8 }
            if n > 2 { chunk |= UInt32(bytes[i + 2]) }
            for j in 0..<4 {
                out.append(j <= n ? alphabet[Int((chunk >> UInt32(18 - 6 * j)) & 63)] : UInt8(ascii: "="))
            }
            i += 3
        }
        return out
    }
}
