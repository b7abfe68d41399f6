/// A point in time as HAPI writes it: seconds since the Unix epoch and nanoseconds.
public struct ConsensusTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Whole seconds since 1970-01-01T00:00:00Z.
    public var seconds: Int64
    /// Nanoseconds within the second, `0..<1_000_000_000`.
    public var nanos: Int32

    /// Creates a timestamp; `nanos` must be in `0..<1_000_000_000`.
    public init(seconds: Int64, nanos: Int32 = 0) {
        precondition((0..<1_000_000_000).contains(nanos), "nanos out of range")
        self.seconds = seconds
        self.nanos = nanos
    }

    /// Creates a timestamp from nanoseconds since the epoch.
    public init(totalNanos: Int64) {
        let (q, r) = totalNanos.quotientAndRemainder(dividingBy: 1_000_000_000)
        self.init(seconds: r < 0 ? q - 1 : q, nanos: Int32(r < 0 ? r + 1_000_000_000 : r))
    }

    /// Nanoseconds since the epoch (valid until the year 2262).
    public var totalNanos: Int64 { seconds &* 1_000_000_000 &+ Int64(nanos) }

    /// This time plus `nanoseconds`.
    public func adding(nanoseconds: Int64) -> ConsensusTimestamp {
        ConsensusTimestamp(totalNanos: totalNanos + nanoseconds)
    }

    /// `seconds.nanos` with nine digits of nanoseconds, as mirror nodes print it.
    public var description: String {
        let n = String(nanos)
        return "\(seconds).\(String(repeating: "0", count: 9 - n.count))\(n)"
    }

    /// Orders by seconds, then nanoseconds.
    public static func < (a: ConsensusTimestamp, b: ConsensusTimestamp) -> Bool {
        (a.seconds, a.nanos) < (b.seconds, b.nanos)
    }
}
