public import MeshLedger
public import MeshLedgerNetwork
import GRPCNIOTransportHTTP2Posix

/// A node's ledger on a Hedera network (or `meshfl ledger serve-hapi`): every
/// call goes to the `HederaLedger` of a `HederaNetworkLedger`; the node's
/// account is the config's `account`, the slashing authority its `operator`.
///
/// Nodes never create or fund accounts on Hedera: accounts and keys come from
/// the config file.
public final class HederaNodeLedger: NodeLedger {
    /// The connection and its config file.
    public let network: HederaNetworkLedger
    var hedera: HederaLedger<HTTP2ClientTransport.Posix> { network.ledger }

    /// Wraps an open network ledger.
    public init(network: HederaNetworkLedger) {
        self.network = network
    }

    public var treasury: LedgerOperator { network.file.configuration.operator }

    public func nodeAccount(in directory: NodeDirectory, funding: Int64) async throws -> LedgerOperator { network.file.account }

    public func close() async { await network.close() }

    // MARK: Ledger, forwarded

    public func createAccount(publicKey: Ed25519PublicKey, initialBalance: Int64, payer: LedgerOperator) async throws -> AccountID {
        try await hedera.createAccount(publicKey: publicKey, initialBalance: initialBalance, payer: payer)
    }

    public func balance(of account: AccountID) async throws -> Int64 { try await hedera.balance(of: account) }

    @discardableResult
    public func transfer(_ amount: Int64, from: LedgerOperator, to: AccountID) async throws -> TransactionReceipt {
        try await hedera.transfer(amount, from: from, to: to)
    }

    @discardableResult
    public func lockEscrow(job: String, amount: Int64, owner: LedgerOperator) async throws -> TransactionReceipt {
        try await hedera.lockEscrow(job: job, amount: amount, owner: owner)
    }

    @discardableResult
    public func releaseEscrow(job: String, task: String, to: AccountID, amount: Int64, owner: LedgerOperator) async throws -> TransactionReceipt {
        try await hedera.releaseEscrow(job: job, task: task, to: to, amount: amount, owner: owner)
    }

    @discardableResult
    public func refundEscrow(job: String, owner: LedgerOperator) async throws -> TransactionReceipt {
        try await hedera.refundEscrow(job: job, owner: owner)
    }

    public func escrow(job: String) async throws -> EscrowState? { try await hedera.escrow(job: job) }

    @discardableResult
    public func stake(_ amount: Int64, trainer: LedgerOperator) async throws -> TransactionReceipt {
        try await hedera.stake(amount, trainer: trainer)
    }

    @discardableResult
    public func unstake(_ amount: Int64, trainer: LedgerOperator) async throws -> TransactionReceipt {
        try await hedera.unstake(amount, trainer: trainer)
    }

    @discardableResult
    public func slash(_ account: AccountID, amount: Int64, evidenceCID: String, authority: LedgerOperator) async throws -> TransactionReceipt {
        try await hedera.slash(account, amount: amount, evidenceCID: evidenceCID, authority: authority)
    }

    public func stake(of account: AccountID) async throws -> StakeState { try await hedera.stake(of: account) }

    public func createTopic(memo: String, submitKey: Ed25519PublicKey?, payer: LedgerOperator) async throws -> TopicID {
        try await hedera.createTopic(memo: memo, submitKey: submitKey, payer: payer)
    }

    @discardableResult
    public func submitMessage(_ message: [UInt8], to topic: TopicID, payer: LedgerOperator, submitKey: Ed25519PrivateKey?) async throws -> [TransactionReceipt] {
        try await hedera.submitMessage(message, to: topic, payer: payer, submitKey: submitKey)
    }

    public func messages(topic: TopicID, from sequenceNumber: Int64, limit: Int) async throws -> [TopicMessage] {
        try await hedera.messages(topic: topic, from: sequenceNumber, limit: limit)
    }

    public func verifyTopic(_ topic: TopicID) async throws -> TopicVerification { try await hedera.verifyTopic(topic) }
}
