public import Libp2p

/// The `/ipfs/kad/1.0.0` message (dht.proto), without the deprecated record author/signature fields.
///
/// ```swift
/// let request = KadMessage(type: .findNode, key: target.bytes)
/// let decoded = try KadMessage(protobuf: request.protobufBytes)
/// ```
public struct KadMessage: Hashable, Sendable {
    /// The request kind (field 1).
    public enum MessageType: UInt64, Sendable {
        /// Store a record.
        case putValue = 0
        /// Fetch a record and closer peers.
        case getValue = 1
        /// Announce the sender as a provider of a key.
        case addProvider = 2
        /// Fetch providers of a key and closer peers.
        case getProviders = 3
        /// Fetch the peers closest to a key.
        case findNode = 4
        /// Liveness check.
        case ping = 5
    }

    /// How the sender can reach a peer (`Peer.connection`).
    public enum ConnectionType: UInt64, Sendable {
        /// Not connected, no recent connection.
        case notConnected = 0
        /// Connected now.
        case connected = 1
        /// Recently connected.
        case canConnect = 2
        /// Recently failed to connect.
        case cannotConnect = 3
    }

    /// A peer in `closerPeers` or `providerPeers`.
    public struct Peer: Hashable, Sendable {
        /// The binary peer id (field 1).
        public var id: [UInt8]
        /// Binary multiaddrs (field 2).
        public var addrs: [[UInt8]]
        /// Connection state (field 3).
        public var connection: ConnectionType
        /// Creates a peer entry.
        public init(id: [UInt8], addrs: [[UInt8]] = [], connection: ConnectionType = .notConnected) {
            self.id = id
            self.addrs = addrs
            self.connection = connection
        }
    }

    /// A stored value (`Record`: key 1, value 2, timeReceived 5; author/signature omitted).
    public struct Record: Hashable, Sendable {
        /// The record key.
        public var key: [UInt8]
        /// The value.
        public var value: [UInt8]
        /// RFC 3339 time the record was received, set by the receiver.
        public var timeReceived: String?
        /// Creates a record.
        public init(key: [UInt8], value: [UInt8], timeReceived: String? = nil) {
            self.key = key
            self.value = value
            self.timeReceived = timeReceived
        }
    }

    /// Most peers accepted in each peer list when decoding.
    public static let maxPeers = 100
    /// Largest encoded message accepted (the go/py limit is 4 MiB).
    public static let maxSize = 4 << 20

    /// The request kind.
    public var type: MessageType
    /// The key (field 2): a peer id for FIND_NODE, a record or provider key otherwise.
    public var key: [UInt8]
    /// The record for PUT_VALUE / GET_VALUE (field 3).
    public var record: Record?
    /// Peers closer to the key (field 8).
    public var closerPeers: [Peer]
    /// Providers of the key (field 9).
    public var providerPeers: [Peer]
    /// Deprecated cluster level (field 10); kept for round-trips.
    public var clusterLevelRaw: UInt64?

    /// Creates a message.
    public init(type: MessageType, key: [UInt8] = [], record: Record? = nil, closerPeers: [Peer] = [],
                providerPeers: [Peer] = [], clusterLevelRaw: UInt64? = nil) {
        self.type = type
        self.key = key
        self.record = record
        self.closerPeers = closerPeers
        self.providerPeers = providerPeers
        self.clusterLevelRaw = clusterLevelRaw
    }

    /// The protobuf encoding (without a length prefix).
    public var protobufBytes: [UInt8] {
        var w = ProtobufWriter()
        w.writeVarint(field: 1, type.rawValue)
        if !key.isEmpty { w.writeBytes(field: 2, key) }
        if let record {
            var r = ProtobufWriter()
            r.writeBytes(field: 1, record.key)
            r.writeBytes(field: 2, record.value)
            if let time = record.timeReceived { r.writeString(field: 5, time) }
            w.writeBytes(field: 3, r.bytes)
        }
        for peer in closerPeers { w.writeBytes(field: 8, Self.encode(peer)) }
        for peer in providerPeers { w.writeBytes(field: 9, Self.encode(peer)) }
        if let clusterLevelRaw { w.writeVarint(field: 10, clusterLevelRaw) }
        return w.bytes
    }

    static func encode(_ peer: Peer) -> [UInt8] {
        var p = ProtobufWriter()
        p.writeBytes(field: 1, peer.id)
        for addr in peer.addrs { p.writeBytes(field: 2, addr) }
        p.writeVarint(field: 3, peer.connection.rawValue)
        return p.bytes
    }

    /// Decodes a kad message.
    ///
    /// - Throws: ``KadError/Code/malformed`` or ``KadError/Code/tooLarge``.
    public init(protobuf bytes: some Collection<UInt8>) throws(KadError) {
        guard bytes.count <= Self.maxSize else {
            throw KadError(.tooLarge, "kad message of \(bytes.count) bytes exceeds \(Self.maxSize)")
        }
        self.init(type: .ping)
        var sawType = false
        do {
            var r = ProtobufReader(bytes)
            while let field = try r.next() {
                switch (field.number, field.value) {
                case (1, .varint(let v)):
                    guard let t = MessageType(rawValue: v) else { throw KadError(.malformed, "unknown kad message type \(v)") }
                    type = t
                    sawType = true
                case (2, .bytes(let b)): key = Array(b)
                case (3, .bytes(let b)): record = try Self.decodeRecord(b)
                case (8, .bytes(let b)):
                    guard closerPeers.count < Self.maxPeers else { throw KadError(.tooLarge, "too many closer peers") }
                    closerPeers.append(try Self.decodePeer(b))
                case (9, .bytes(let b)):
                    guard providerPeers.count < Self.maxPeers else { throw KadError(.tooLarge, "too many provider peers") }
                    providerPeers.append(try Self.decodePeer(b))
                case (10, .varint(let v)): clusterLevelRaw = v
                default: continue
                }
            }
        } catch let error as KadError {
            throw error
        } catch {
            throw KadError(.malformed, "kad message does not decode", cause: error)
        }
        // proto3 writers omit a zero enum: no type field means PUT_VALUE.
        if !sawType { type = .putValue }
    }

    static func decodePeer(_ bytes: ArraySlice<UInt8>) throws -> Peer {
        var r = ProtobufReader(bytes)
        var peer = Peer(id: [])
        while let f = try r.next() {
            switch (f.number, f.value) {
            case (1, .bytes(let b)): peer.id = Array(b)
            case (2, .bytes(let b)):
                guard peer.addrs.count < 64 else { throw KadError(.tooLarge, "peer entry has more than 64 addresses") }
                peer.addrs.append(Array(b))
            case (3, .varint(let v)): peer.connection = ConnectionType(rawValue: v) ?? .notConnected
            default: continue
            }
        }
        return peer
    }

    static func decodeRecord(_ bytes: ArraySlice<UInt8>) throws -> Record {
        var r = ProtobufReader(bytes)
        var record = Record(key: [], value: [])
        while let f = try r.next() {
            switch (f.number, f.value) {
            case (1, .bytes(let b)): record.key = Array(b)
            case (2, .bytes(let b)): record.value = Array(b)
            case (5, .bytes(let b)): record.timeReceived = String(decoding: b, as: UTF8.self)
            default: continue
            }
        }
        return record
    }
}
