import Synchronization

/// Set once a deadline has passed, so the timeout wins over the errors it causes.
private final class TimeoutFlag: Sendable {
    private let fired = Mutex(false)
    func fire() { fired.withLock { $0 = true } }
    var hasFired: Bool { fired.withLock { $0 } }
}

/// Runs `body`, failing with ``Libp2pError/Code/timeout`` after `timeout`.
///
/// `onTimeout` must make `body` finish (for example by closing its socket), because a task group
/// waits for its children: NIO futures do not observe task cancellation. Whatever error `body`
/// then throws, the caller sees the timeout.
func withTimeout<T: Sendable>(
    _ timeout: Duration,
    _ what: String,
    onTimeout: @escaping @Sendable () -> Void = {},
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let flag = TimeoutFlag()
    let timeoutError = Libp2pError(.timeout, "\(what) timed out after \(timeout)")
    return try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            flag.fire()
            onTimeout()
            throw timeoutError
        }
        defer { group.cancelAll() }
        do {
            guard let first = try await group.next() else { throw timeoutError }
            return first
        } catch {
            if flag.hasFired { throw timeoutError }
            throw error
        }
    }
}
