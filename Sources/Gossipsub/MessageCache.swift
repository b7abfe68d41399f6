/// The gossipsub message cache: the messages of the last `historyLength` heartbeats, answering IWANT,
/// of which the last `gossipLength` windows are advertised in IHAVE.
///
/// - Complexity: `put` and `get` are O(1); `shift` is O(messages in the oldest window).
public struct MessageCache: Sendable {
    private var messages: [MessageID: PubsubMessage] = [:]
    private var windows: [[(id: MessageID, topic: String)]]
    private let gossipLength: Int
    private var transmissions: [MessageID: Int] = [:]

    /// Creates a cache of `historyLength` windows, gossiping the newest `gossipLength`.
    public init(historyLength: Int, gossipLength: Int) {
        precondition(historyLength >= 1 && gossipLength <= historyLength, "need 1 <= gossipLength <= historyLength")
        windows = Array(repeating: [], count: historyLength)
        self.gossipLength = gossipLength
    }

    /// Adds a message to the newest window.
    public mutating func put(_ message: PubsubMessage, id: MessageID) {
        guard messages[id] == nil else { return }
        messages[id] = message
        windows[0].append((id, message.topic))
    }

    /// The cached message with `id`, if still in history.
    public func get(_ id: MessageID) -> PubsubMessage? { messages[id] }

    /// The message for an IWANT, counting the transmission; `nil` once sent `limit` times or if absent.
    public mutating func getForPeer(_ id: MessageID, limit: Int) -> PubsubMessage? {
        guard let message = messages[id] else { return nil }
        let sent = transmissions[id, default: 0]
        guard sent < limit else { return nil }
        transmissions[id] = sent + 1
        return message
    }

    /// The ids in `topic` within the gossip windows, newest first.
    public func gossipIDs(topic: String) -> [MessageID] {
        windows.prefix(gossipLength).flatMap { $0.filter { $0.topic == topic }.map(\.id) }
    }

    /// Starts a new window and drops the oldest (called every heartbeat).
    public mutating func shift() {
        if let oldest = windows.popLast() {
            for entry in oldest {
                messages[entry.id] = nil
                transmissions[entry.id] = nil
            }
        }
        windows.insert([], at: 0)
    }

    /// How many messages are cached.
    public var count: Int { messages.count }
}
