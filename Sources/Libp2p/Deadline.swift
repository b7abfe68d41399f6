/// Runs `body`, failing with ``Libp2pError/Code/timeout`` after `timeout`.
///
/// `onTimeout` must make `body` finish (for example by closing its socket), because a task group
/// waits for its children: NIO futures do not observe task cancellation.
func withTimeout<T: Sendable>(
    _ timeout: Duration,
    _ what: String,
    onTimeout: @escaping @Sendable () -> Void = {},
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            onTimeout()
            throw Libp2pError(.timeout, "\(what) timed out after \(timeout)")
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else {
            throw Libp2pError(.timeout, "\(what) produced no result")
        }
        return first
    }
}
