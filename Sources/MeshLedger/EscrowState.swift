/// A job's escrow and the pure rules for changing it.
///
/// Invariant: `released + refunded <= locked`; `available = locked − released − refunded`.
public struct EscrowState: Hashable, Sendable {
    /// The job the escrow pays for.
    public var job: String
    /// The account that locked the funds; only it releases and refunds.
    public var owner: AccountID
    /// Tinybars locked so far.
    public var locked: Int64
    /// Tinybars paid out to trainers.
    public var released: Int64
    /// Tinybars returned to the owner.
    public var refunded: Int64
    /// False after a refund; a closed escrow takes no more locks or releases.
    public var isOpen: Bool

    /// Creates an escrow record.
    public init(job: String, owner: AccountID, locked: Int64 = 0, released: Int64 = 0, refunded: Int64 = 0, isOpen: Bool = true) {
        self.job = job
        self.owner = owner
        self.locked = locked
        self.released = released
        self.refunded = refunded
        self.isOpen = isOpen
    }

    /// Tinybars still available to release or refund.
    public var available: Int64 { locked - released - refunded }

    /// Adds `amount` to the escrow, locked by `payer`.
    mutating func lock(_ amount: Int64, by payer: AccountID) throws(LedgerError) {
        try Self.requirePositive(amount)
        guard isOpen else { throw Self.closed(job) }
        guard payer == owner else {
            throw LedgerError(.unauthorized, "escrow '\(job)' belongs to \(owner); \(payer) cannot add to it. Use another job id.")
        }
        let (sum, overflow) = locked.addingReportingOverflow(amount)
        guard !overflow else { throw LedgerError(.invalidArgument, "escrow '\(job)' would overflow 64 bits.") }
        locked = sum
    }

    /// Pays `amount` out for a task, by `payer`; never beyond what is available.
    mutating func release(_ amount: Int64, by payer: AccountID) throws(LedgerError) {
        try Self.requirePositive(amount)
        guard isOpen else { throw Self.closed(job) }
        guard payer == owner else {
            throw LedgerError(.unauthorized, "only the owner \(owner) releases escrow '\(job)'; sign with the owner's key.")
        }
        guard amount <= available else {
            throw LedgerError(.insufficientEscrow, "escrow '\(job)' has \(available) tinybars left, the release asks for \(amount); lock more or release less.")
        }
        released += amount
    }

    /// Returns everything still available to the owner and closes the escrow; returns the amount.
    mutating func refund(by payer: AccountID) throws(LedgerError) -> Int64 {
        guard isOpen else { throw Self.closed(job) }
        guard payer == owner else {
            throw LedgerError(.unauthorized, "only the owner \(owner) refunds escrow '\(job)'.")
        }
        let rest = available
        refunded += rest
        isOpen = false
        return rest
    }

    static func requirePositive(_ amount: Int64) throws(LedgerError) {
        guard amount > 0 else { throw LedgerError(.invalidArgument, "amounts are positive tinybars; got \(amount).") }
    }

    private static func closed(_ job: String) -> LedgerError {
        LedgerError(.escrowClosed, "escrow '\(job)' was refunded and is closed; lock a new job id to pay again.")
    }
}
