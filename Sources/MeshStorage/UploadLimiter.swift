/// A token bucket: `rate` bytes per second, bursts up to `burst` bytes. Pure
/// logic with the clock passed in; ``UploadLimiter`` runs it.
///
/// ```swift
/// var bucket = TokenBucket(rate: 1 << 20, burst: 1 << 20, now: .now)
/// let wait = bucket.take(4 << 20, now: .now)   // about 3 s: sleep that long before sending
/// ```
public struct TokenBucket: Sendable {
    /// Bytes per second.
    public let rate: Double
    /// The most tokens saved up.
    public let burst: Double
    var tokens: Double
    var updated: ContinuousClock.Instant

    /// A full bucket.
    public init(rate: Int, burst: Int, now: ContinuousClock.Instant) {
        precondition(rate > 0 && burst > 0, "a token bucket needs a positive rate and burst")
        self.rate = Double(rate)
        self.burst = Double(burst)
        self.tokens = Double(burst)
        self.updated = now
    }

    /// Takes `bytes` tokens (going into debt if needed) and returns how long
    /// to wait before sending them.
    public mutating func take(_ bytes: Int, now: ContinuousClock.Instant) -> Duration {
        let elapsed = now - updated
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        tokens = min(burst, tokens + max(0, seconds) * rate)
        updated = max(updated, now)
        tokens -= Double(bytes)
        return tokens >= 0 ? .zero : .nanoseconds(Int64(-tokens / rate * 1e9))
    }
}

/// Caps the bytes per second a node uploads over the block exchange (all
/// sessions share it), modelling a peer's uplink.
public actor UploadLimiter {
    var bucket: TokenBucket

    /// A limiter of `bytesPerSecond`, with bursts of a quarter second (at least 256 KiB).
    public init(bytesPerSecond: Int) {
        bucket = TokenBucket(rate: bytesPerSecond, burst: max(256 << 10, bytesPerSecond / 4), now: .now)
    }

    /// Waits until `bytes` may be sent.
    public func acquire(_ bytes: Int) async {
        let wait = bucket.take(bytes, now: .now)
        if wait > .zero { try? await Task.sleep(for: wait) }
    }
}
