/// A bounded FIFO of RPCs waiting to be written to one peer; when full, new RPCs are dropped and counted,
/// so a slow peer cannot make the router buffer without limit.
///
/// - Complexity: `enqueue` and `dequeue` are O(1) amortised.
public struct OutboundQueue: Sendable {
    private var items: [PubsubRPC] = []
    private var head = 0
    /// Most RPCs held.
    public let capacity: Int
    /// RPCs dropped because the queue was full.
    public private(set) var dropped = 0

    /// Creates an empty queue holding at most `capacity` RPCs.
    public init(capacity: Int) {
        precondition(capacity > 0, "an outbound queue needs room for one RPC")
        self.capacity = capacity
    }

    /// RPCs waiting.
    public var count: Int { items.count - head }

    /// Appends `rpc`; returns `false` (and counts a drop) if the queue is full.
    @discardableResult
    public mutating func enqueue(_ rpc: PubsubRPC) -> Bool {
        guard count < capacity else {
            dropped += 1
            return false
        }
        items.append(rpc)
        return true
    }

    /// Removes and returns the oldest RPC.
    public mutating func dequeue() -> PubsubRPC? {
        guard head < items.count else { return nil }
        let rpc = items[head]
        head += 1
        if head > 64, head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return rpc
    }
}
