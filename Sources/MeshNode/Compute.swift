import NIOPosix

/// Where a node runs CPU-heavy work — training, evaluation, re-execution:
/// NIO's blocking thread pool, never the threads that run tasks and I/O.
///
/// `meshfl` runs Swift concurrency on the NIO event loops (one set of threads
/// for async code and sockets, no hand-off between them); a training step on
/// one of those would stall every connection of its loop, so long
/// computations hop here and the answer comes back to the caller.
///
/// ```swift
/// let output = try await Compute.run { try TaskExecution.run(job: spec, start: global, shard: shard, seed: seed) }
/// ```
enum Compute {
    /// Runs `body` on a blocking-pool thread and returns its result.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(body)
    }
}
