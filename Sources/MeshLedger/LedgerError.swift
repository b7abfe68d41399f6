/// An error from the ledger: what went wrong, why, and what to do about it.
///
/// ```swift
/// do { try await ledger.releaseEscrow(job: "j1", task: "t9", to: trainer, amount: 5, payer: owner) }
/// catch let error as LedgerError where error.code == .insufficientEscrow { … }
/// ```
public struct LedgerError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure, stable across releases; match on it.
    public enum Code: String, Sendable, Hashable {
        /// Bytes that are not a well-formed protobuf message or HAPI transaction.
        case malformed
        /// A transaction carries no signature for a key it needs.
        case missingSignature
        /// A signature does not verify against the key it claims.
        case invalidSignature
        /// The account, topic or escrow does not exist.
        case notFound
        /// An account balance is too small for the debit.
        case insufficientBalance
        /// A release or refund would take more than the escrow still holds.
        case insufficientEscrow
        /// The escrow was refunded and is closed.
        case escrowClosed
        /// The stake is too small, or still inside its cooldown.
        case insufficientStake
        /// Unstaking before the cooldown ended.
        case stakeLocked
        /// A slash without a usable evidence CID.
        case missingEvidence
        /// The signer is not allowed to do this (for example, only the escrow owner releases).
        case unauthorized
        /// The same transaction id was already applied.
        case duplicateTransaction
        /// The transaction's valid window does not contain the consensus time.
        case transactionExpired
        /// An argument is out of range (negative amount, message too large, …).
        case invalidArgument
        /// The SQLite file could not be opened, read or written.
        case storage
        /// Replaying the log disagrees with the stored state or running hashes.
        case verificationFailed
        /// This ledger backend does not offer the operation; use one that does.
        case unsupported
        /// The schedule being signed has already executed.
        case scheduleExecuted
        /// A Hedera node refused or failed the transaction (the message names the HAPI status).
        case rejected
    }

    /// The kind of failure.
    public var code: Code
    /// What happened and what to do, in one or two sentences.
    public var message: String
    /// The underlying error, if another layer failed first.
    public var cause: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// `code: message (cause)`.
    public var description: String {
        if let cause { return "\(code.rawValue): \(message) (cause: \(cause))" }
        return "\(code.rawValue): \(message)"
    }
}
