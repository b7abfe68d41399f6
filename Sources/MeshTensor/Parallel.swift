import Dispatch

/// Splits index ranges over a small, fixed number of workers for the
/// element-wise kernels that run between BLAS calls.
///
/// Work is split into contiguous chunks whose results land in disjoint
/// memory, so the output does not depend on the worker count.
public enum Parallel {
    /// Workers used by `forEachChunk` (1 runs everything on the caller).
    /// Follows `BLAS.setThreads`, so one setting governs the process.
    nonisolated(unsafe) public static var workers = 2

    /// Calls `body` with contiguous sub-ranges of `0..<count`, concurrently
    /// when there are several workers and at least `minimumWork` elements of
    /// work in all (below that, thread hand-off costs more than it saves).
    public static func forEachChunk(of count: Int, minimumWork: Int, _ body: (Range<Int>) -> Void) {
        let parts = min(workers, count)
        guard parts > 1, minimumWork >= 1 << 15 else {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UnsafeSendableBox(body)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let start = count * part / parts, end = count * (part + 1) / parts
                if start < end { box.value(start..<end) }
            }
        }
    }
}

/// Carries a non-Sendable closure into `concurrentPerform`, which runs it
/// before returning; callers guarantee the chunks touch disjoint memory.
private struct UnsafeSendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
