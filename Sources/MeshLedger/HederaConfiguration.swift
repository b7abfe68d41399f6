/// Where and as whom `HederaLedger` talks to a Hedera network.
public struct HederaConfiguration: Sendable {
    /// A consensus node: its gRPC address and its account (written into `nodeAccountID`).
    public struct Node: Sendable, Hashable {
        /// `host:port`, e.g. `0.testnet.hedera.com:50211`.
        public var address: String
        /// The node's account, e.g. 0.0.3.
        public var account: AccountID
        /// Creates a node entry.
        public init(address: String, account: AccountID) {
            self.address = address
            self.account = account
        }
    }

    /// The nodes to send transactions to (the first is used; the transport connects to it).
    public var nodes: [Node]
    /// The account that pays and signs.
    public var `operator`: LedgerOperator
    /// The mirror node's REST base URL, e.g. `https://testnet.mirrornode.hedera.com`.
    public var mirrorNodeURL: String
    /// The most fee the operator pays per transaction, in tinybars.
    public var maxTransactionFee: UInt64 = 200_000_000
    /// Retries for BUSY / PLATFORM_NOT_ACTIVE.
    public var retry = HAPIRetryPolicy()
    /// How many times to ask for a receipt before giving up.
    public var receiptAttempts = 50
    /// The longest one gRPC call may take (a node that does not answer fails the call after this).
    public var callTimeout: Duration = .seconds(30)
    /// The pause between receipt queries.
    public var receiptInterval: Duration = .milliseconds(200)
    /// The meshfl registry topic (submit key: the operator's) that records escrows and stakes;
    /// create one with `HederaLedger.createRegistryTopic()`. Escrow and stake calls need it.
    public var registryTopic: TopicID?
    /// Seconds a stake stays locked after each `stake`.
    public var stakeCooldownSeconds: Int64 = 7 * 24 * 3600
    /// Where slashed stakes go; the operator's account if nil.
    public var slashRecipient: AccountID?
    /// The source of transaction valid starts.
    public var clock: @Sendable () -> ConsensusTimestamp = LocalLedger.wallClock

    /// Creates a configuration.
    public init(nodes: [Node], operator: LedgerOperator, mirrorNodeURL: String) {
        self.nodes = nodes
        self.operator = `operator`
        self.mirrorNodeURL = mirrorNodeURL
    }
}
