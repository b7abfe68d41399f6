import Synchronization

/// The host's count of connections, readable off the host actor: an accepted socket is admitted or
/// refused in its channel initializer, before its handshake starts.
final class ConnectionSlots: Sendable {
    private let counts = Mutex<(pending: Int, open: Int)>((0, 0))

    /// Takes a slot for an inbound connection being upgraded, unless `limit` connections are open or pending.
    func acquire(limit: Int) -> Bool {
        counts.withLock { counts in
            guard counts.pending + counts.open < limit else { return false }
            counts.pending += 1
            return true
        }
    }

    /// Returns a slot taken by ``acquire(limit:)`` once that connection is registered or has failed.
    func release() {
        counts.withLock { $0.pending -= 1 }
    }

    /// Records how many connections the host has registered.
    func setOpen(_ count: Int) {
        counts.withLock { $0.open = count }
    }
}
