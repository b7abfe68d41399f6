/// A Hedera Consensus Service topic id, `shard.realm.num` (for example `0.0.5005`).
public struct TopicID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The shard number.
    public var shard: Int64
    /// The realm number.
    public var realm: Int64
    /// The topic number within the realm.
    public var num: Int64

    /// Creates an id from its three parts.
    public init(shard: Int64 = 0, realm: Int64 = 0, num: Int64) {
        self.shard = shard
        self.realm = realm
        self.num = num
    }

    /// Parses `shard.realm.num`; throws `invalidArgument` otherwise.
    public init(parsing text: String) throws(LedgerError) {
        let (s, r, n) = try EntityIDText.parse(text, kind: "topic")
        self.init(shard: s, realm: r, num: n)
    }

    /// `shard.realm.num`.
    public var description: String { "\(shard).\(realm).\(num)" }

    /// Orders by shard, realm, then number.
    public static func < (a: TopicID, b: TopicID) -> Bool {
        (a.shard, a.realm, a.num) < (b.shard, b.realm, b.num)
    }
}
