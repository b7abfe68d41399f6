/// A Hedera-style account id, `shard.realm.num` (for example `0.0.1001`).
///
/// ```swift
/// let payer = try AccountID(parsing: "0.0.1001")
/// ```
public struct AccountID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The shard number.
    public var shard: Int64
    /// The realm number.
    public var realm: Int64
    /// The account number within the realm.
    public var num: Int64

    /// Creates an id from its three parts.
    public init(shard: Int64 = 0, realm: Int64 = 0, num: Int64) {
        self.shard = shard
        self.realm = realm
        self.num = num
    }

    /// Parses `shard.realm.num`; throws `invalidArgument` otherwise.
    public init(parsing text: String) throws(LedgerError) {
        let (s, r, n) = try EntityIDText.parse(text, kind: "account")
        self.init(shard: s, realm: r, num: n)
    }

    /// `shard.realm.num`.
    public var description: String { "\(shard).\(realm).\(num)" }

    /// Orders by shard, realm, then number.
    public static func < (a: AccountID, b: AccountID) -> Bool {
        (a.shard, a.realm, a.num) < (b.shard, b.realm, b.num)
    }
}

/// Parsing shared by the `shard.realm.num` ids.
enum EntityIDText {
    static func parse(_ text: String, kind: String) throws(LedgerError) -> (Int64, Int64, Int64) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
              let s = Int64(parts[0]), let r = Int64(parts[1]), let n = Int64(parts[2]),
              s >= 0, r >= 0, n >= 0
        else {
            throw LedgerError(.invalidArgument, "'\(text)' is not a \(kind) id; write it as shard.realm.num, for example 0.0.1001.")
        }
        return (s, r, n)
    }
}
