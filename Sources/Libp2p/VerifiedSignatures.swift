import Synchronization

/// Ed25519 signatures this host has already verified, so a peer that reconnects with the same signed
/// Noise static key is not verified again. Verification is a pure function of key, message and
/// signature, so a byte-for-byte match of all three is as good as verifying.
///
/// - Complexity: a lookup hashes the three byte strings; at most ``capacity`` entries are kept.
final class VerifiedSignatures: Sendable {
    private struct Entry: Hashable {
        var key: [UInt8]
        var message: [UInt8]
        var signature: [UInt8]
    }

    /// Most entries kept; the set is emptied when it is full.
    static let capacity = 4096

    private let entries = Mutex<Set<Entry>>([])

    /// Whether `signature` over `message` verifies with `key`, verifying only if this triple is not known good.
    func verify(_ key: PublicKey, keyBytes: [UInt8], signature: [UInt8], message: [UInt8]) -> Bool {
        let entry = Entry(key: keyBytes, message: message, signature: signature)
        if entries.withLock({ $0.contains(entry) }) { return true }
        guard key.verify(signature: signature, for: message) else { return false }
        entries.withLock {
            if $0.count >= Self.capacity { $0.removeAll(keepingCapacity: true) }
            $0.insert(entry)
        }
        return true
    }
}
