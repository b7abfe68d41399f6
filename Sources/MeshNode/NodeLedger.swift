public import MeshLedger

/// The ledger as a node uses it: every `Ledger` call, plus the two things
/// that differ between backends — who the slashing authority is, and where the
/// node's own account comes from.
///
/// `LocalLedger` conforms directly (the treasury slashes; the dev faucet funds
/// a new account per data directory); `HederaNodeLedger` takes both from its
/// config file. Open one with `LedgerLocation.open()`.
///
/// ```swift
/// let ledger = try await LedgerLocation(parsing: "hedera:hedera.json").open()
/// let me = try await ledger.nodeAccount(in: directory, funding: 1_000_000)
/// ```
public protocol NodeLedger: Ledger {
    /// The slashing authority: the local treasury, or the Hedera config's operator.
    var treasury: LedgerOperator { get }
    /// The account this node pays and signs with. On a local ledger the dev
    /// faucet creates one with `funding` tinybars on first use (kept in the data
    /// directory); on Hedera it is the config's `account`, and `funding` is ignored.
    func nodeAccount(in directory: NodeDirectory, funding: Int64) async throws -> LedgerOperator
    /// Closes connections (nothing for a local file).
    func close() async
}

extension LocalLedger: NodeLedger {
    public func nodeAccount(in directory: NodeDirectory, funding: Int64) async throws -> LedgerOperator {
        try await directory.ledgerAccount(on: self, funding: funding)
    }

    public func close() async {}
}
