import NIOCore
import NIOPosix
import Synchronization

/// Set once a deadline has passed, so the timeout wins over the errors it causes.
private final class TimeoutFlag: Sendable {
    private let fired = Mutex(false)
    func fire() { fired.withLock { $0 = true } }
    var hasFired: Bool { fired.withLock { $0 } }
}

/// Runs `body`, failing with ``Libp2pError/Code/timeout`` after `timeout`.
///
/// `onTimeout` must make `body` finish (for example by closing its socket or resetting its stream):
/// the caller waits for `body`, and NIO futures do not observe task cancellation. Whatever `body`
/// then returns or throws, the caller sees the timeout. Cancelling the caller cancels `body`.
///
/// The deadline is a timer on an event loop (the caller's own under the NIO executor), not a
/// sleeping task: a `Task.sleep` arms a Dispatch timer, whose manager thread and wake-ups cost
/// more than the short requests this guards (~4% of a dial's CPU went there).
public func withTimeout<T: Sendable>(
    _ timeout: Duration,
    _ what: String,
    onTimeout: @escaping @Sendable () -> Void = {},
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let flag = TimeoutFlag()
    let work = Task { try await body() }
    let timer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: Host.timeAmount(timeout)) {
        flag.fire()
        onTimeout()
        work.cancel()
    }
    defer { timer.cancel() }
    let outcome = await withTaskCancellationHandler { await work.result } onCancel: { work.cancel() }
    if flag.hasFired { throw Libp2pError(.timeout, "\(what) timed out after \(timeout)") }
    return try outcome.get()
}
