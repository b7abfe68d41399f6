import Dispatch

/// Splits index ranges over a small, fixed number of workers: the one pool of
/// threads meshfl's tensor code runs on (BLAS included, see ``BLAS``).
///
/// Work is split into contiguous chunks whose results land in disjoint
/// memory, so the output does not depend on the worker count.
public enum Parallel {
    /// Workers used by `forEachChunk` (1 runs everything on the caller).
    /// Follows `BLAS.setThreads`, so one setting governs the process.
    nonisolated(unsafe) public static var workers = 2

    /// Work (in elements or multiply-adds) below which a split is not worth
    /// the thread hand-off.
    public static let minimumSplitWork = 1 << 15

    /// How many parts `forEachPart` splits `count` items into for `minimumWork`.
    public static func partCount(of count: Int, minimumWork: Int) -> Int {
        let parts = min(workers, count)
        return parts > 1 && minimumWork >= minimumSplitWork ? parts : min(1, count)
    }

    /// Calls `body` with contiguous sub-ranges of `0..<count`, concurrently
    /// when there are several workers and at least `minimumWork` elements of
    /// work in all (below that, thread hand-off costs more than it saves).
    public static func forEachChunk(of count: Int, minimumWork: Int, _ body: (Range<Int>) -> Void) {
        forEachPart(of: count, minimumWork: minimumWork) { _, range in body(range) }
    }

    /// As `forEachChunk`, also passing the index of the part (below
    /// `partCount(of:minimumWork:)`), so each part can use its own scratch memory.
    public static func forEachPart(of count: Int, minimumWork: Int, _ body: (_ part: Int, _ range: Range<Int>) -> Void) {
        let parts = partCount(of: count, minimumWork: minimumWork)
        guard parts > 1 else {
            body(0, 0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UnsafeSendableBox(body)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let start = count * part / parts, end = count * (part + 1) / parts
                if start < end { box.value(part, start..<end) }
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
