public import Libp2p

/// The gossipsub `ControlMessage`: IHAVE, IWANT, GRAFT and PRUNE.
public struct ControlMessage: Hashable, Sendable {
    /// "I have these messages in `topic`" (field 1 of `ControlIHave`: topic, field 2: message ids).
    public struct IHave: Hashable, Sendable {
        /// The topic the ids belong to.
        public var topic: String
        /// The advertised message ids.
        public var messageIDs: [MessageID]
        /// Creates an IHAVE.
        public init(topic: String, messageIDs: [MessageID]) {
            self.topic = topic
            self.messageIDs = messageIDs
        }
    }

    /// "Send me these messages" (`ControlIWant`, field 1: message ids).
    public struct IWant: Hashable, Sendable {
        /// The wanted message ids.
        public var messageIDs: [MessageID]
        /// Creates an IWANT.
        public init(messageIDs: [MessageID]) { self.messageIDs = messageIDs }
    }

    /// A peer offered through peer exchange (`PeerInfo`: field 1 peer id, field 2 signed peer record).
    public struct PeerInfo: Hashable, Sendable {
        /// The binary peer id.
        public var peerID: [UInt8]
        /// The signed peer record envelope, if the pruning peer had one.
        public var signedPeerRecord: [UInt8]?
        /// Creates a peer info.
        public init(peerID: [UInt8], signedPeerRecord: [UInt8]? = nil) {
            self.peerID = peerID
            self.signedPeerRecord = signedPeerRecord
        }
    }

    /// "You are out of my mesh for `topic`" (`ControlPrune`: topic, peers for PX, backoff seconds).
    public struct Prune: Hashable, Sendable {
        /// The topic.
        public var topic: String
        /// Peers offered for peer exchange.
        public var peers: [PeerInfo]
        /// Seconds the pruned peer must wait before grafting again; `nil` means the receiver's default.
        public var backoff: UInt64?
        /// Creates a PRUNE.
        public init(topic: String, peers: [PeerInfo] = [], backoff: UInt64? = nil) {
            self.topic = topic
            self.peers = peers
            self.backoff = backoff
        }
    }

    /// IHAVE entries (field 1).
    public var ihave: [IHave]
    /// IWANT entries (field 2).
    public var iwant: [IWant]
    /// Topics grafted (field 3, `ControlGraft` with the topic in field 1).
    public var graft: [String]
    /// PRUNE entries (field 4).
    public var prune: [Prune]

    /// Creates a control message.
    public init(ihave: [IHave] = [], iwant: [IWant] = [], graft: [String] = [], prune: [Prune] = []) {
        self.ihave = ihave
        self.iwant = iwant
        self.graft = graft
        self.prune = prune
    }

    /// Whether there is nothing to send.
    public var isEmpty: Bool { ihave.isEmpty && iwant.isEmpty && graft.isEmpty && prune.isEmpty }

    /// Appends the entries of `other`.
    public mutating func merge(_ other: ControlMessage) {
        ihave += other.ihave
        iwant += other.iwant
        graft += other.graft
        prune += other.prune
    }

    /// The protobuf encoding.
    public var protobufBytes: [UInt8] {
        var w = ProtobufWriter()
        for entry in ihave {
            var e = ProtobufWriter()
            e.writeString(field: 1, entry.topic)
            for id in entry.messageIDs { e.writeBytes(field: 2, id.bytes) }
            w.writeBytes(field: 1, e.bytes)
        }
        for entry in iwant {
            var e = ProtobufWriter()
            for id in entry.messageIDs { e.writeBytes(field: 1, id.bytes) }
            w.writeBytes(field: 2, e.bytes)
        }
        for topic in graft {
            var e = ProtobufWriter()
            e.writeString(field: 1, topic)
            w.writeBytes(field: 3, e.bytes)
        }
        for entry in prune {
            var e = ProtobufWriter()
            e.writeString(field: 1, entry.topic)
            for peer in entry.peers {
                var p = ProtobufWriter()
                p.writeBytes(field: 1, peer.peerID)
                if let record = peer.signedPeerRecord { p.writeBytes(field: 2, record) }
                e.writeBytes(field: 2, p.bytes)
            }
            if let backoff = entry.backoff { e.writeVarint(field: 3, backoff) }
            w.writeBytes(field: 4, e.bytes)
        }
        return w.bytes
    }

    /// Decodes a `ControlMessage`, counting every message id and PX peer against `budget`.
    init(protobuf bytes: ArraySlice<UInt8>, limits: PubsubRPC.Limits) throws {
        self.init()
        var ids = 0
        var r = ProtobufReader(bytes)
        func countID() throws(GossipsubError) {
            ids += 1
            guard ids <= limits.maxControlIDs else {
                throw GossipsubError(.tooLarge, "control message has more than \(limits.maxControlIDs) message ids")
            }
        }
        while let field = try r.next() {
            guard case .bytes(let body) = field.value else { continue }
            switch field.number {
            case 1:
                var e = ProtobufReader(body)
                var entry = IHave(topic: "", messageIDs: [])
                while let f = try e.next() {
                    if f.number == 1, let s = f.value.stringValue { entry.topic = s }
                    if f.number == 2, let b = f.value.bytesValue { try countID(); entry.messageIDs.append(MessageID(b)) }
                }
                ihave.append(entry)
            case 2:
                var e = ProtobufReader(body)
                var entry = IWant(messageIDs: [])
                while let f = try e.next() {
                    if f.number == 1, let b = f.value.bytesValue { try countID(); entry.messageIDs.append(MessageID(b)) }
                }
                iwant.append(entry)
            case 3:
                var e = ProtobufReader(body)
                var topic = ""
                while let f = try e.next() { if f.number == 1, let s = f.value.stringValue { topic = s } }
                graft.append(topic)
            case 4:
                var e = ProtobufReader(body)
                var entry = Prune(topic: "")
                while let f = try e.next() {
                    switch f.number {
                    case 1: entry.topic = f.value.stringValue ?? ""
                    case 2:
                        guard let pb = f.value.bytesValue else { continue }
                        guard entry.peers.count < limits.maxPeerExchange else {
                            throw GossipsubError(.tooLarge, "PRUNE offers more than \(limits.maxPeerExchange) peers")
                        }
                        var p = ProtobufReader(pb)
                        var info = PeerInfo(peerID: [])
                        while let pf = try p.next() {
                            if pf.number == 1, let b = pf.value.bytesValue { info.peerID = b }
                            if pf.number == 2, let b = pf.value.bytesValue { info.signedPeerRecord = b }
                        }
                        entry.peers.append(info)
                    case 3: entry.backoff = f.value.varintValue
                    default: continue
                    }
                }
                prune.append(entry)
            default:
                continue
            }
            guard ihave.count + iwant.count + graft.count + prune.count <= limits.maxControlEntries else {
                throw GossipsubError(.tooLarge, "control message has more than \(limits.maxControlEntries) entries")
            }
        }
    }
}
