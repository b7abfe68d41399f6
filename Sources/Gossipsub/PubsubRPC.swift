public import Libp2p

/// A pubsub `RPC`: subscription changes, published messages and gossipsub control, as sent on a pubsub stream.
///
/// On the wire each RPC is prefixed by its uvarint length.
///
/// ```swift
/// let rpc = PubsubRPC(subscriptions: [.init(subscribe: true, topic: "jobs")])
/// let decoded = try PubsubRPC(protobuf: rpc.protobufBytes)
/// ```
public struct PubsubRPC: Hashable, Sendable {
    /// A subscribe or unsubscribe (`SubOpts`: field 1 subscribe, field 2 topic).
    public struct Subscription: Hashable, Sendable {
        /// `true` to subscribe, `false` to unsubscribe.
        public var subscribe: Bool
        /// The topic.
        public var topic: String
        /// Creates a subscription change.
        public init(subscribe: Bool, topic: String) {
            self.subscribe = subscribe
            self.topic = topic
        }
    }

    /// Bounds applied while decoding, so a hostile peer cannot make us allocate without limit.
    public struct Limits: Hashable, Sendable {
        /// Largest encoded RPC accepted (default 1 MiB, as go-libp2p and py-libp2p).
        public var maxRPCSize: Int = 1 << 20
        /// Most subscription changes in one RPC.
        public var maxSubscriptions: Int = 1_000
        /// Most published messages in one RPC.
        public var maxMessages: Int = 1_000
        /// Most IHAVE/IWANT/GRAFT/PRUNE entries in one control message.
        public var maxControlEntries: Int = 1_000
        /// Most message ids across all IHAVE and IWANT entries of one control message.
        public var maxControlIDs: Int = 5_000
        /// Most peers offered in one PRUNE.
        public var maxPeerExchange: Int = 32
        /// Default limits.
        public init() {}
    }

    /// Subscription changes (field 1).
    public var subscriptions: [Subscription]
    /// Published or forwarded messages (field 2).
    public var messages: [PubsubMessage]
    /// Gossipsub control (field 3); `nil` when absent.
    public var control: ControlMessage?

    /// Creates an RPC.
    public init(subscriptions: [Subscription] = [], messages: [PubsubMessage] = [], control: ControlMessage? = nil) {
        self.subscriptions = subscriptions
        self.messages = messages
        self.control = control
    }

    /// Whether the RPC carries nothing.
    public var isEmpty: Bool { subscriptions.isEmpty && messages.isEmpty && (control?.isEmpty ?? true) }

    /// The protobuf encoding.
    public var protobufBytes: [UInt8] {
        var w = ProtobufWriter()
        for sub in subscriptions {
            var s = ProtobufWriter()
            s.writeVarint(field: 1, sub.subscribe ? 1 : 0)
            s.writeString(field: 2, sub.topic)
            w.writeBytes(field: 1, s.bytes)
        }
        for message in messages { w.writeBytes(field: 2, message.protobufBytes) }
        if let control, !control.isEmpty { w.writeBytes(field: 3, control.protobufBytes) }
        return w.bytes
    }

    /// Decodes an `RPC` protobuf (without its length prefix), enforcing `limits`.
    ///
    /// - Throws: ``GossipsubError/Code/tooLarge`` past a limit, ``GossipsubError/Code/malformed`` on bad bytes.
    public init(protobuf bytes: some Collection<UInt8>, limits: Limits = Limits()) throws(GossipsubError) {
        guard bytes.count <= limits.maxRPCSize else {
            throw GossipsubError(.tooLarge, "RPC of \(bytes.count) bytes exceeds the \(limits.maxRPCSize)-byte limit")
        }
        self.init()
        do {
            var r = ProtobufReader(bytes)
            while let field = try r.next() {
                guard case .bytes(let body) = field.value else { continue }
                switch field.number {
                case 1:
                    guard subscriptions.count < limits.maxSubscriptions else {
                        throw GossipsubError(.tooLarge, "RPC has more than \(limits.maxSubscriptions) subscriptions")
                    }
                    var s = ProtobufReader(body)
                    var sub = Subscription(subscribe: false, topic: "")
                    var sawTopic = false
                    while let f = try s.next() {
                        if f.number == 1, let v = f.value.varintValue { sub.subscribe = v != 0 }
                        if f.number == 2, let t = f.value.stringValue { sub.topic = t; sawTopic = true }
                    }
                    if sawTopic { subscriptions.append(sub) }
                case 2:
                    guard messages.count < limits.maxMessages else {
                        throw GossipsubError(.tooLarge, "RPC has more than \(limits.maxMessages) messages")
                    }
                    messages.append(try PubsubMessage(protobuf: body))
                case 3:
                    var merged = control ?? ControlMessage()
                    merged.merge(try ControlMessage(protobuf: body, limits: limits))
                    control = merged
                default:
                    continue
                }
            }
        } catch let error as GossipsubError {
            throw error
        } catch {
            throw GossipsubError(.malformed, "RPC protobuf does not decode", cause: error)
        }
        if control?.isEmpty == true { control = nil }  // an empty control field carries nothing
    }

    /// The RPC with its uvarint length prefix, as written to a stream.
    public var lengthPrefixedBytes: [UInt8] {
        let body = protobufBytes
        return UVarint.encode(UInt64(body.count)) + body
    }
}
