import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The scheduling priority (nice value) of the whole node process.
///
/// A trainer lends idle CPU: by default it runs at nice 10, so the work of
/// the machine's owner — and a requester sharing the machine — comes first,
/// while it still gets a share beside background jobs (at 19, the lowest
/// priority, one busy process at 0 leaves it under 2% of a core: a demo on a
/// machine that is also compiling took 58 s instead of 10).
///
/// On Linux the nice value belongs to each thread (`setpriority` with
/// `PRIO_PROCESS` and id 0 changes the caller alone), and a new thread starts
/// with its creator's; the event loops, the blocking pool and OpenBLAS's
/// threads exist before the node reads its settings, so every thread in
/// `/proc/self/task` is set, and the list is read again until no thread
/// remains at another value (one started during a pass). The worker threads
/// libdispatch starts later for its queues (GRDB's, Foundation's) set their
/// own value from their quality-of-service class; the node's own work —
/// event loops, the blocking pool that trains, OpenBLAS — runs at `nice`.
public enum ProcessPriority {
    /// Sets every thread of this process to `nice` (0…19).
    ///
    /// - Throws: ``NodeError/Code/invalidInput`` when the system refuses.
    public static func set(nice: Int) throws {
        #if os(Linux)
        for _ in 0..<5 {
            let others = threads().filter { thread(niceOf: $0) != nice }
            if others.isEmpty { return }
            for thread in others where setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(thread), Int32(nice)) != 0 {
                // A thread that ended since the list was read is gone, not refused.
                guard errno == ESRCH else { throw NodeError(.invalidInput, "cannot set nice \(nice): \(String(cString: strerror(errno)))") }
            }
        }
        #else
        guard setpriority(PRIO_PROCESS, 0, Int32(nice)) == 0 else {
            throw NodeError(.invalidInput, "cannot set nice \(nice): \(String(cString: strerror(errno)))")
        }
        #endif
    }

    /// The ids of this process's threads (Linux).
    static func threads() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []).compactMap(Int32.init)
    }

    /// A thread's nice value, or nil when it has ended (Linux).
    static func thread(niceOf id: Int32) -> Int? {
        errno = 0
        let value = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(id))
        return value == -1 && errno != 0 ? nil : Int(value)
    }
}
