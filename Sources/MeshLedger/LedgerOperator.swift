/// An account together with the key that signs for it — who pays for and authorises a call.
///
/// ```swift
/// let alice = LedgerOperator(account: try AccountID(parsing: "0.0.1001"), key: aliceKey)
/// try await ledger.transfer(500, from: alice, to: bob)
/// ```
public struct LedgerOperator: Sendable {
    /// The account.
    public var account: AccountID
    /// The account's Ed25519 key.
    public var key: Ed25519PrivateKey

    /// Creates an operator.
    public init(account: AccountID, key: Ed25519PrivateKey) {
        self.account = account
        self.key = key
    }
}
