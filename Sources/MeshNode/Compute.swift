import Foundation
import NIOPosix
import Synchronization

/// Where a node runs CPU-heavy work — training, evaluation, re-execution:
/// NIO's blocking thread pool, never the threads that run tasks and I/O.
///
/// `meshfl` runs Swift concurrency on the NIO event loops (one set of threads
/// for async code and sockets, no hand-off between them); a training step on
/// one of those would stall every connection of its loop, so long
/// computations hop here and the answer comes back to the caller.
///
/// The process does not exit under a running computation: `exit` runs the
/// libraries' destructors, OpenBLAS's frees its buffers, and a pool thread
/// still inside `sgemm` then faults (seen in CI: SIGSEGV in libopenblas after
/// the last test of a module had passed, a re-execution still running). An
/// exit handler closes ``gate`` first: it waits for the running bodies (at most
/// ``exitWait``) and later ones fail instead of starting.
///
/// ```swift
/// let output = try await Compute.run { try TaskExecution.run(job: spec, start: global, shard: shard, seed: seed) }
/// ```
enum Compute {
    /// How long process exit waits for running computations.
    static let exitWait: Duration = .seconds(60)
    /// The bodies running on the pool, and whether the process is exiting.
    static let gate = ComputeGate()

    /// Runs `body` on a blocking-pool thread and returns its result.
    ///
    /// - Throws: what `body` throws; `CancellationError` once the process is exiting.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        _ = exitHandler
        return try await NIOThreadPool.singleton.runIfActive {
            guard gate.enter() else { throw CancellationError() }  // the process is exiting
            defer { gate.leave() }
            return try body()
        }
    }

    /// Registered on first use. Handlers registered at run time run before the dynamic linker's own
    /// (which runs the libraries' destructors): `exit` calls them in reverse order of registration.
    private static let exitHandler: Void = {
        atexit { _ = Compute.gate.close(waitingAtMost: Compute.exitWait) }
    }()
}

/// Counts computations running and, once closed, lets none start: the part of ``Compute``'s exit
/// guard that can be tested without exiting.
final class ComputeGate: Sendable {
    private let state = Mutex((running: 0, closed: false))

    /// Marks a computation as running; false (and nothing marked) once the gate is closed.
    func enter() -> Bool {
        state.withLock { s in
            guard !s.closed else { return false }
            s.running += 1
            return true
        }
    }

    /// Marks a computation entered with ``enter()`` as done.
    func leave() {
        state.withLock { $0.running -= 1 }
    }

    /// Computations running now.
    var running: Int { state.withLock { $0.running } }

    /// Closes the gate and waits (polling every millisecond, at most `limit`) until nothing runs;
    /// returns whether everything finished in time.
    func close(waitingAtMost limit: Duration) -> Bool {
        state.withLock { $0.closed = true }
        let deadline = ContinuousClock.now + limit
        while running > 0 {
            guard ContinuousClock.now < deadline else { return false }
            usleep(1_000)
        }
        return true
    }
}
