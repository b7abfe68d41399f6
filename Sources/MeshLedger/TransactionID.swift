/// A HAPI transaction id: the payer and the moment the transaction becomes valid.
///
/// Two transactions with the same id never both take effect.
public struct TransactionID: Hashable, Sendable, CustomStringConvertible {
    /// The account that pays for, and must sign, the transaction.
    public var payer: AccountID
    /// The start of the transaction's valid window.
    public var validStart: ConsensusTimestamp
    /// True for the inner transaction a schedule executes.
    public var scheduled: Bool
    /// Distinguishes child transactions; 0 for user transactions.
    public var nonce: Int32

    /// Creates a transaction id.
    public init(payer: AccountID, validStart: ConsensusTimestamp, scheduled: Bool = false, nonce: Int32 = 0) {
        self.payer = payer
        self.validStart = validStart
        self.scheduled = scheduled
        self.nonce = nonce
    }

    /// `payer@seconds.nanos`, the form Hedera SDKs print (with `?scheduled` / `/nonce` when set).
    public var description: String {
        var s = "\(payer)@\(validStart)"
        if scheduled { s += "?scheduled" }
        if nonce != 0 { s += "/\(nonce)" }
        return s
    }
}
