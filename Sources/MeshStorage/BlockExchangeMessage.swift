public import Foundation
public import Libp2p
public import NIOCore

/// One message of the block exchange protocol, `/meshfl/blocks/1.0.0`.
///
/// ## Wire format
///
/// A session is one libp2p stream opened by a fetcher to a peer that may hold
/// a blob. Every message is framed as
///
///     uvarint(length) | type: u8 | body      (length counts type + body)
///
/// with integers as unsigned LEB128 varints (`uv`) and CIDs in their 36-byte
/// binary form. Messages, by type byte:
///
/// | type | name        | body                                                        | sent by  |
/// |------|-------------|-------------------------------------------------------------|----------|
/// | 0x01 | OPEN        | root CID, flags u8 (1: send the manifest, 2: I serve too), uv n, n × (uv len, multiaddr bytes) | fetcher, first |
/// | 0x02 | MANIFEST    | the root block (a meshfl manifest)                           | server   |
/// | 0x03 | SINGLE      | uv size: the root is one raw block of that size               | server   |
/// | 0x04 | NOT_FOUND   | (empty) — the server does not hold the root; it closes        | server   |
/// | 0x05 | BUFFER_MAP  | uv block count, packed bits (``Bitfield``)                    | server, once |
/// | 0x06 | HAVE        | uv index — the server stored one more block                   | server   |
/// | 0x07 | REQUEST     | uv index                                                     | fetcher  |
/// | 0x08 | BLOCK       | uv index, the block's bytes                                  | server   |
/// | 0x09 | DONT_HAVE   | uv index                                                     | server   |
/// | 0x0A | PEERS       | uv n, n × (uv len, multiaddr bytes ending in `/p2p/<id>`)     | server   |
/// | 0x0B | CANCEL      | uv index — drop a queued REQUEST                              | fetcher  |
///
/// The server answers OPEN with MANIFEST or SINGLE when asked, then BUFFER_MAP,
/// then PEERS (other peers in the swarm that serve, for peer exchange); later
/// HAVE as its own store fills, PEERS as serving peers join, and one BLOCK or
/// DONT_HAVE per REQUEST, in order. Blocks are indexed by their position in the
/// manifest (a SINGLE root is block 0). Unknown types are a protocol error.
public enum BlockExchangeMessage: Sendable, Equatable {
    /// The protocol id.
    public static let protocolID = "/meshfl/blocks/1.0.0"
    /// The largest frame accepted: a 64 MiB block plus its header.
    public static let maxFrameLength = (64 << 20) + 64
    /// The most addresses in OPEN or PEERS.
    public static let maxAddresses = 64

    /// The body of OPEN.
    public struct Open: Sendable, Equatable {
        /// The blob wanted (a manifest's CID, or a single block's).
        public var root: CID
        /// Whether the server should send the manifest first.
        public var wantsManifest: Bool
        /// Whether the fetcher serves the blob's blocks too (and may be told to others).
        public var serves: Bool
        /// Where the fetcher listens, with `/p2p/<id>`, when it serves.
        public var addresses: [Multiaddr]

        /// Creates an OPEN body.
        public init(root: CID, wantsManifest: Bool, serves: Bool, addresses: [Multiaddr] = []) {
            self.root = root
            self.wantsManifest = wantsManifest
            self.serves = serves
            self.addresses = addresses
        }
    }

    /// Starts a session for a blob.
    case open(Open)
    /// The root block, a meshfl manifest.
    case manifest(Data)
    /// The root is a single raw block of this size.
    case single(size: Int64)
    /// The server does not hold the root.
    case notFound
    /// The blocks the server holds.
    case bufferMap(Bitfield)
    /// The server stored one more block.
    case have(Int)
    /// Asks for a block.
    case request(Int)
    /// A block's bytes.
    case block(index: Int, bytes: Data)
    /// The server cannot send that block.
    case dontHave(Int)
    /// Other serving peers of the swarm.
    case peers([Multiaddr])
    /// Withdraws a request.
    case cancel(Int)

    enum Kind: UInt8 {
        case open = 1, manifest, single, notFound, bufferMap, have, request, block, dontHave, peers, cancel
    }

    /// The framed bytes: length prefix, type, body.
    public func framed() -> ByteBuffer {
        var body: [UInt8] = []
        var payload: Data?
        let kind: Kind
        switch self {
        case .open(let open):
            kind = .open
            body = open.root.bytes
            body.append((open.wantsManifest ? 1 : 0) | (open.serves ? 2 : 0))
            Self.appendAddresses(open.addresses, to: &body)
        case .manifest(let data):
            kind = .manifest
            payload = data
        case .single(let size):
            kind = .single
            UVarint.encode(UInt64(size), into: &body)
        case .notFound:
            kind = .notFound
        case .bufferMap(let map):
            kind = .bufferMap
            UVarint.encode(UInt64(map.count), into: &body)
            body += map.bytes
        case .have(let i): kind = .have; UVarint.encode(UInt64(i), into: &body)
        case .request(let i): kind = .request; UVarint.encode(UInt64(i), into: &body)
        case .dontHave(let i): kind = .dontHave; UVarint.encode(UInt64(i), into: &body)
        case .cancel(let i): kind = .cancel; UVarint.encode(UInt64(i), into: &body)
        case .block(let i, let bytes):
            kind = .block
            UVarint.encode(UInt64(i), into: &body)
            payload = bytes
        case .peers(let addresses):
            kind = .peers
            Self.appendAddresses(addresses, to: &body)
        }
        let length = 1 + body.count + (payload?.count ?? 0)
        var buffer = ByteBuffer()
        buffer.reserveCapacity(length + UVarint.maxLength)
        UVarint.write(UInt64(length), into: &buffer)
        buffer.writeInteger(kind.rawValue)
        buffer.writeBytes(body)
        if let payload { buffer.writeBytes(payload) }
        return buffer
    }

    private static func appendAddresses(_ addresses: [Multiaddr], to body: inout [UInt8]) {
        UVarint.encode(UInt64(addresses.count), into: &body)
        for address in addresses {
            let bytes = address.bytes
            UVarint.encode(UInt64(bytes.count), into: &body)
            body += bytes
        }
    }

    /// Decodes one frame's content (type + body, without the length prefix).
    ///
    /// - Throws: ``StorageError/Code/invalidArgument`` naming what is malformed.
    public init(decoding frame: [UInt8]) throws {
        guard let first = frame.first, let kind = Kind(rawValue: first) else {
            throw Self.malformed("unknown message type \(frame.first.map { "0x" + String($0, radix: 16) } ?? "(empty frame)")")
        }
        var reader = VarintReader(bytes: frame, offset: 1)
        func index() throws -> Int {
            guard let v = reader.next(), v < 1 << 31 else { throw Self.malformed("bad block index in \(kind)") }
            return Int(v)
        }
        func end() throws {
            guard reader.offset == frame.count else { throw Self.malformed("\(frame.count - reader.offset) trailing bytes after \(kind)") }
        }
        switch kind {
        case .open:
            guard frame.count >= 38 else { throw Self.malformed("OPEN is \(frame.count) bytes, shorter than a CID and flags") }
            let root = try CID(bytes: Array(frame[1..<37]))
            let flags = frame[37]
            reader.offset = 38
            let addresses = try Self.readAddresses(&reader, frame)
            try end()
            self = .open(Open(root: root, wantsManifest: flags & 1 != 0, serves: flags & 2 != 0, addresses: addresses))
        case .manifest:
            self = .manifest(Data(frame[1...]))
        case .single:
            guard let size = reader.next(), size <= UInt64(Int64.max) else { throw Self.malformed("bad size in SINGLE") }
            try end()
            self = .single(size: Int64(size))
        case .notFound:
            try end()
            self = .notFound
        case .bufferMap:
            guard let count = reader.next(), count < 1 << 24 else { throw Self.malformed("bad block count in BUFFER_MAP") }
            self = .bufferMap(try Bitfield(count: Int(count), bytes: Array(frame[reader.offset...])))
        case .have: let i = try index(); try end(); self = .have(i)
        case .request: let i = try index(); try end(); self = .request(i)
        case .dontHave: let i = try index(); try end(); self = .dontHave(i)
        case .cancel: let i = try index(); try end(); self = .cancel(i)
        case .block:
            let i = try index()
            self = .block(index: i, bytes: Data(frame[reader.offset...]))
        case .peers:
            let addresses = try Self.readAddresses(&reader, frame)
            try end()
            self = .peers(addresses)
        }
    }

    private static func readAddresses(_ reader: inout VarintReader, _ frame: [UInt8]) throws -> [Multiaddr] {
        guard let n = reader.next(), n <= UInt64(maxAddresses) else {
            throw malformed("address count missing or above \(maxAddresses)")
        }
        var addresses: [Multiaddr] = []
        for _ in 0..<n {
            guard let length = reader.next(), length <= 1024, reader.offset + Int(length) <= frame.count else {
                throw malformed("address length runs past the frame")
            }
            let bytes = frame[reader.offset..<reader.offset + Int(length)]
            reader.offset += Int(length)
            do { addresses.append(try Multiaddr(bytes: bytes)) } catch {
                throw StorageError(code: .invalidArgument, message: "a block exchange peer sent an invalid multiaddr", cause: error)
            }
        }
        return addresses
    }

    static func malformed(_ what: String) -> StorageError {
        StorageError(code: .invalidArgument, message: "malformed \(protocolID) message: \(what); the peer does not speak this protocol version")
    }
}
