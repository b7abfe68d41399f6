import NIOCore
import NIOPosix

/// Callers an actor parks until something changes or a deadline passes.
///
/// Each waits on a continuation beside an event-loop timer — not a sleeping
/// task, which would arm a Dispatch timer per caller and live on until its
/// deadline — and the timer is cancelled when the caller is woken early.
/// The actor keeps this in its state and routes the timer's `onDeadline`
/// back to ``wake(_:)`` on itself:
///
/// ```swift
/// let id = parked.newID()
/// await withCheckedContinuation { parked.park(id, $0, timeout: .seconds(2)) { Task { await self.wake(id) } } }
/// ```
struct ParkedCallers {
    private var parked: [Int: (continuation: CheckedContinuation<Void, Never>, timer: Scheduled<Void>)] = [:]
    private var nextID = 0

    /// Whether no caller is parked.
    var isEmpty: Bool { parked.isEmpty }

    /// An id for the next ``park(_:_:timeout:onDeadline:)`` (known before the continuation exists,
    /// for a cancellation handler); a late timer of an earlier caller never wakes a later one.
    mutating func newID() -> Int {
        defer { nextID += 1 }
        return nextID
    }

    /// Parks `continuation` under `id` until ``wake(_:)`` or ``wakeAll()``; after `timeout`, `onDeadline` runs on an event loop.
    mutating func park(_ id: Int, _ continuation: CheckedContinuation<Void, Never>, timeout: Duration,
                       onDeadline: @escaping @Sendable () -> Void) {
        let timer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: .nanoseconds(Int64(timeout / .nanoseconds(1)))) { onDeadline() }
        parked[id] = (continuation, timer)
    }

    /// Resumes the caller parked under `id`, if it still is.
    mutating func wake(_ id: Int) {
        guard let caller = parked.removeValue(forKey: id) else { return }
        caller.timer.cancel()
        caller.continuation.resume()
    }

    /// Resumes every parked caller.
    mutating func wakeAll() {
        for id in Array(parked.keys) { wake(id) }
    }
}
