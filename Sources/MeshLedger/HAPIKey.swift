/// A HAPI `Key`: a single Ed25519 key, or a threshold / list of keys.
public indirect enum HAPIKey: Hashable, Sendable {
    /// One Ed25519 public key (32 bytes).
    case ed25519([UInt8])
    /// At least `threshold` of `keys` must sign.
    case threshold(Int, [HAPIKey])
    /// Every key in the list must sign.
    case keyList([HAPIKey])

    /// Whether signatures by `signers` (raw Ed25519 public keys) satisfy this key.
    public func isSatisfied(by signers: Set<[UInt8]>) -> Bool {
        switch self {
        case .ed25519(let key): signers.contains(key)
        case .threshold(let m, let keys): keys.count(where: { $0.isSatisfied(by: signers) }) >= max(m, 1)
        case .keyList(let keys): !keys.isEmpty && keys.allSatisfy { $0.isSatisfied(by: signers) }
        }
    }
}
