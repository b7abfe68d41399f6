/// The subset of DNS messages that libp2p mDNS discovery uses (RFC 6762, libp2p `discovery/mdns.md`): a
/// PTR question for `_p2p._udp.local`, and responses whose TXT records carry `dnsaddr=<multiaddr>/p2p/<id>`.
///
/// No I/O; ``MDNSDiscovery`` sends and receives the bytes.
///
/// ```swift
/// let query = MDNSPacket.query()
/// let answer = MDNSPacket.response(peerName: "a1b2", addresses: [full])
/// let found = try MDNSPacket(bytes: answer).dnsaddrs   // [full]
/// ```
public struct MDNSPacket: Sendable, Equatable {
    /// The service name libp2p peers query.
    public static let serviceName = "_p2p._udp.local"
    /// DNS record types used here.
    public static let typePTR: UInt16 = 12, typeTXT: UInt16 = 16
    /// Largest packet handled (a 9000-byte jumbo frame, as RFC 6762 allows).
    public static let maxSize = 9000

    /// One resource record.
    public struct Record: Sendable, Equatable {
        /// The owner name, dotted.
        public var name: String
        /// The record type.
        public var type: UInt16
        /// Time to live, seconds.
        public var ttl: UInt32
        /// PTR target (for PTR records).
        public var target: String?
        /// Character strings (for TXT records).
        public var texts: [String] = []
    }

    /// Whether the packet is a response (QR bit).
    public var isResponse: Bool
    /// Question names with their types.
    public var questions: [(name: String, type: UInt16)]
    /// Answer and additional records together.
    public var records: [Record]

    public static func == (a: MDNSPacket, b: MDNSPacket) -> Bool {
        a.isResponse == b.isResponse && a.records == b.records
            && a.questions.map(\.name) == b.questions.map(\.name) && a.questions.map(\.type) == b.questions.map(\.type)
    }

    /// The multiaddrs of every `dnsaddr=` TXT string (those that parse and name a peer).
    public var dnsaddrs: [Multiaddr] {
        records.flatMap(\.texts).compactMap { text in
            guard text.hasPrefix("dnsaddr="), let address = try? Multiaddr(String(text.dropFirst(8))),
                  address.peerID != nil else { return nil }
            return address
        }
    }

    /// Whether this is a question for libp2p peers.
    public var asksForPeers: Bool {
        !isResponse && questions.contains { $0.type == Self.typePTR && $0.name.lowercased() == Self.serviceName }
    }

    /// A query for `_p2p._udp.local` PTR records.
    public static func query() -> [UInt8] {
        var out: [UInt8] = [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        writeName(serviceName, into: &out)
        out += [0, UInt8(typePTR), 0, 1]
        return out
    }

    /// A response naming this peer `peerName` under `_p2p._udp.local`, with one `dnsaddr` TXT string per address.
    public static func response(peerName: String, addresses: [Multiaddr], ttl: UInt32 = 120) -> [UInt8] {
        let instance = peerName + "." + serviceName
        var out: [UInt8] = [0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 1]  // QR + AA; 1 answer, 1 additional
        writeName(serviceName, into: &out)
        var ptr: [UInt8] = []
        writeName(instance, into: &ptr)
        writeRecord(type: typePTR, ttl: ttl, data: ptr, into: &out)
        writeName(instance, into: &out)
        var txt: [UInt8] = []
        for address in addresses {
            let text = Array("dnsaddr=\(address)".utf8.prefix(255))
            txt.append(UInt8(text.count))
            txt += text
        }
        writeRecord(type: typeTXT, ttl: ttl, data: txt, into: &out)
        return out
    }

    static func writeName(_ name: String, into out: inout [UInt8]) {
        for label in name.split(separator: ".") {
            let bytes = Array(label.utf8.prefix(63))
            out.append(UInt8(bytes.count))
            out += bytes
        }
        out.append(0)
    }

    static func writeRecord(type: UInt16, ttl: UInt32, data: [UInt8], into out: inout [UInt8]) {
        out += [UInt8(type >> 8), UInt8(type & 0xff), 0, 1]
        out += [UInt8(ttl >> 24), UInt8((ttl >> 16) & 0xff), UInt8((ttl >> 8) & 0xff), UInt8(ttl & 0xff)]
        out += [UInt8(data.count >> 8), UInt8(data.count & 0xff)]
        out += data
    }

    /// Decodes a packet, following name compression pointers (at most 16 jumps, backwards only).
    ///
    /// - Throws: ``Libp2pError/Code/malformed`` for truncated or looping packets.
    public init(bytes: [UInt8]) throws(Libp2pError) {
        guard bytes.count >= 12, bytes.count <= Self.maxSize else {
            throw Libp2pError(.malformed, "mDNS packet of \(bytes.count) bytes")
        }
        var reader = Reader(bytes: bytes, offset: 12)
        isResponse = bytes[2] & 0x80 != 0
        let counts = (0..<4).map { Int(bytes[4 + 2 * $0]) << 8 | Int(bytes[5 + 2 * $0]) }
        questions = []
        records = []
        for _ in 0..<counts[0] {
            let name = try reader.name()
            let type = try reader.u16()
            _ = try reader.u16()
            questions.append((name, type))
        }
        for _ in 0..<(counts[1] + counts[2] + counts[3]) {
            let name = try reader.name()
            let type = try reader.u16()
            _ = try reader.u16()
            let ttl = UInt32(try reader.u16()) << 16 | UInt32(try reader.u16())
            let length = Int(try reader.u16())
            guard reader.offset + length <= bytes.count else { throw Libp2pError(.malformed, "mDNS record overruns the packet") }
            var record = Record(name: name, type: type, ttl: ttl)
            let end = reader.offset + length
            if type == Self.typePTR {
                record.target = try reader.name()
            } else if type == Self.typeTXT {
                var i = reader.offset
                while i < end {
                    let n = Int(bytes[i])
                    guard i + 1 + n <= end else { throw Libp2pError(.malformed, "mDNS TXT string overruns its record") }
                    record.texts.append(String(decoding: bytes[(i + 1)..<(i + 1 + n)], as: UTF8.self))
                    i += 1 + n
                }
            }
            reader.offset = end
            records.append(record)
        }
    }

    struct Reader {
        let bytes: [UInt8]
        var offset: Int

        mutating func u16() throws(Libp2pError) -> UInt16 {
            guard offset + 2 <= bytes.count else { throw Libp2pError(.malformed, "mDNS packet truncated") }
            defer { offset += 2 }
            return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        }

        /// Reads a possibly compressed name; `offset` ends after its in-place part.
        mutating func name() throws(Libp2pError) -> String {
            var labels: [String] = []
            var position = offset
            var jumped = false
            var jumps = 0
            while true {
                guard position < bytes.count else { throw Libp2pError(.malformed, "mDNS name truncated") }
                let length = Int(bytes[position])
                if length == 0 {
                    if !jumped { offset = position + 1 }
                    break
                }
                if length & 0xC0 == 0xC0 {
                    guard position + 1 < bytes.count else { throw Libp2pError(.malformed, "mDNS pointer truncated") }
                    let target = (length & 0x3F) << 8 | Int(bytes[position + 1])
                    jumps += 1
                    guard target < position, jumps <= 16 else { throw Libp2pError(.malformed, "mDNS name pointer loops") }
                    if !jumped { offset = position + 2 }
                    jumped = true
                    position = target
                    continue
                }
                guard length <= 63, position + 1 + length <= bytes.count else {
                    throw Libp2pError(.malformed, "mDNS label overruns the packet")
                }
                labels.append(String(decoding: bytes[(position + 1)...(position + length)], as: UTF8.self))
                guard labels.count <= 128 else { throw Libp2pError(.malformed, "mDNS name too long") }
                position += 1 + length
            }
            return labels.joined(separator: ".")
        }
    }
}
