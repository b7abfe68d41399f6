/// When to resubmit a HAPI call: exponential backoff on BUSY and
/// PLATFORM_NOT_ACTIVE, bounded in attempts — a pure state machine the gRPC
/// client drives, testable without a network.
///
/// ```swift
/// var retry = HAPIRetryPolicy()
/// while true {
///     let code = try await send()
///     switch retry.receive(code) {
///     case .done: return
///     case .retry(let delay): try await Task.sleep(for: delay)
///     case .fail(let error): throw error
///     }
/// }
/// ```
public struct HAPIRetryPolicy: Sendable {
    /// What to do after a response.
    public enum Action: Equatable, Sendable {
        /// The response is final (success or a non-retryable error the caller reports).
        case done
        /// Resubmit after this delay.
        case retry(after: Duration)
        /// Give up: attempts exhausted.
        case fail(LedgerError.Code, String)
    }

    /// The most attempts, counting the first.
    public var maxAttempts: Int
    /// The delay before the first retry.
    public var initialBackoff: Duration
    /// The longest delay between attempts.
    public var maxBackoff: Duration
    /// Attempts made so far.
    public private(set) var attempts = 0

    /// A policy: by default 10 attempts, 250 ms doubling to at most 8 s (as the Hedera SDKs do).
    public init(maxAttempts: Int = 10, initialBackoff: Duration = .milliseconds(250), maxBackoff: Duration = .seconds(8)) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    /// Records one response and says what to do next.
    public mutating func receive(_ code: HAPIResponseCode) -> Action {
        attempts += 1
        guard code.isRetryable else { return .done }
        guard attempts < maxAttempts else {
            return .fail(.storage, "the node answered \(code) \(attempts) times; try another node or later.")
        }
        var delay = initialBackoff
        for _ in 1..<attempts where delay < maxBackoff { delay = delay * 2 }
        return .retry(after: min(delay, maxBackoff))
    }
}
