/// Message ids seen recently, each kept for a time-to-live (the gossipsub seen cache).
///
/// - Complexity: `insert` and `contains` are O(1) amortised; `prune` is O(expired).
public struct SeenCache: Sendable {
    private var expiry: [MessageID: Duration] = [:]
    private var order: [(id: MessageID, expires: Duration)] = []
    private var head = 0
    /// How long an id is remembered.
    public let ttl: Duration

    /// Creates an empty cache.
    public init(ttl: Duration) { self.ttl = ttl }

    /// Records `id` as seen at `now`; returns `false` if it was already seen.
    @discardableResult
    public mutating func insert(_ id: MessageID, now: Duration) -> Bool {
        prune(now: now)
        guard expiry[id] == nil else { return false }
        let expires = now + ttl
        expiry[id] = expires
        order.append((id, expires))
        return true
    }

    /// Whether `id` was seen within the TTL.
    public func contains(_ id: MessageID) -> Bool { expiry[id] != nil }

    /// Forgets ids whose TTL has passed.
    public mutating func prune(now: Duration) {
        while head < order.count, order[head].expires <= now {
            expiry[order[head].id] = nil
            head += 1
        }
        if head > 1_024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }

    /// How many ids are remembered.
    public var count: Int { expiry.count }
}
