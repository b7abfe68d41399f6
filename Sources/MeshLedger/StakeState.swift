/// A trainer's stake and the pure rules for changing it.
///
/// Staking (re)starts a cooldown; unstaking is refused until it ends. Slashing
/// works at any time and moves the slashed tinybars to the treasury (0.0.2),
/// so the total supply is unchanged.
public struct StakeState: Hashable, Sendable {
    /// The staking account.
    public var account: AccountID
    /// Tinybars at stake.
    public var staked: Int64
    /// Unstaking is allowed at or after this time.
    public var unlocksAt: ConsensusTimestamp
    /// Tinybars slashed from this account so far.
    public var slashedTotal: Int64

    /// Creates a stake record.
    public init(account: AccountID, staked: Int64 = 0, unlocksAt: ConsensusTimestamp = .init(seconds: 0), slashedTotal: Int64 = 0) {
        self.account = account
        self.staked = staked
        self.unlocksAt = unlocksAt
        self.slashedTotal = slashedTotal
    }

    mutating func stake(_ amount: Int64, at now: ConsensusTimestamp, cooldownSeconds: Int64) throws(LedgerError) {
        try EscrowState.requirePositive(amount)
        staked += amount
        unlocksAt = ConsensusTimestamp(seconds: now.seconds + cooldownSeconds, nanos: now.nanos)
    }

    mutating func unstake(_ amount: Int64, at now: ConsensusTimestamp) throws(LedgerError) {
        try EscrowState.requirePositive(amount)
        guard now >= unlocksAt else {
            throw LedgerError(.stakeLocked, "the stake of \(account) is in its cooldown until \(unlocksAt) (now \(now)); unstake after that.")
        }
        guard amount <= staked else {
            throw LedgerError(.insufficientStake, "\(account) has \(staked) tinybars staked, cannot unstake \(amount).")
        }
        staked -= amount
    }

    mutating func slash(_ amount: Int64, evidenceCID: String) throws(LedgerError) {
        try EscrowState.requirePositive(amount)
        guard EvidenceCID.isPlausible(evidenceCID) else {
            throw LedgerError(.missingEvidence, "a slash needs the CID of its evidence (CIDv0 'Qm…' or CIDv1 'b…'); got '\(evidenceCID)'. Store the evidence first and pass its CID.")
        }
        guard amount <= staked else {
            throw LedgerError(.insufficientStake, "\(account) has \(staked) tinybars staked, cannot slash \(amount).")
        }
        staked -= amount
        slashedTotal += amount
    }
}

/// A syntactic check of content ids used as slashing evidence.
enum EvidenceCID {
    private static let base58 = Set("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8)
    private static let base32 = Set("abcdefghijklmnopqrstuvwxyz234567".utf8)

    /// True for a CIDv0 (`Qm` + 44 base58 characters) or a base32 CIDv1 (`b` + at least 8 base32 characters).
    static func isPlausible(_ cid: String) -> Bool {
        let u = Array(cid.utf8)
        guard u.count <= 256 else { return false }
        if u.count == 46, cid.hasPrefix("Qm") { return u.allSatisfy(base58.contains) }
        if u.count >= 9, u[0] == UInt8(ascii: "b") { return u.dropFirst().allSatisfy(base32.contains) }
        return false
    }
}
