public import GRPCCore
internal import Synchronization
internal import Foundation

/// The ledger on a Hedera network: HAPI transactions built with meshfl's codec,
/// sent over gRPC (grpc-swift-2), receipts polled with `getTransactionReceipts`,
/// reads from the mirror node REST API.
///
/// The caller owns the gRPC client and its transport (HTTP/2 to a node in
/// production, `InProcessTransport` against `LocalHAPIService` in tests) and
/// runs its connections.
///
/// Escrow and stakes run on Hedera primitives (see `HederaLedger+Escrow.swift`):
/// each job's escrow is an account with a 2-of-2 threshold key (owner and the
/// configuration's operator, the coordinator), paid out by scheduled transfers
/// the owner creates and the coordinator co-signs; a stake is an account held
/// by the slashing authority (the operator). What each account is for is
/// recorded on the registry topic (`HederaConfiguration.registryTopic`).
///
/// ```swift
/// try await withGRPCClient(transport: transport) { client in
///     let hedera = HederaLedger(client: client, configuration: config, mirror: mirror)
///     let topic = try await hedera.createTopic(memo: "job-1", submitKey: nil, payer: config.operator)
/// }
/// ```
public final class HederaLedger<Transport: ClientTransport>: Ledger {
    let client: GRPCClient<Transport>
    /// The configuration this ledger uses.
    public let configuration: HederaConfiguration
    let mirror: any MirrorNodeClient
    private let lastValidStart = Mutex(ConsensusTimestamp(seconds: 0))
    /// The registry folded so far (read on from its `nextSequence`).
    let registryCache: Mutex<HederaRegistry>

    /// A ledger over `client`, reading through `mirror`.
    public init(client: GRPCClient<Transport>, configuration: HederaConfiguration, mirror: any MirrorNodeClient) {
        self.client = client
        self.configuration = configuration
        self.mirror = mirror
        self.registryCache = Mutex(HederaRegistry(cooldownSeconds: configuration.stakeCooldownSeconds))
    }

    // MARK: Transactions

    /// Signs and sends a transaction, retrying BUSY / PLATFORM_NOT_ACTIVE, then waits for its receipt.
    ///
    /// A receipt status other than SUCCESS throws, unless it is in `accepting`
    /// (IDENTICAL_SCHEDULE_ALREADY_CREATED, say), which returns the receipt.
    @discardableResult
    public func execute(_ data: TransactionBody.Data, payer: LedgerOperator, extraSigners: [Ed25519PrivateKey] = [],
                        transactionID: TransactionID? = nil, memo: String = "",
                        accepting: Set<HAPIResponseCode> = []) async throws -> TransactionReceipt {
        guard let node = configuration.nodes.first else {
            throw LedgerError(.invalidArgument, "the Hedera configuration lists no nodes; add at least one address and account.")
        }
        let method = try HAPIMethod.method(for: data)
        let id = transactionID ?? TransactionID(payer: payer.account, validStart: nextValidStart())
        let body = TransactionBody(transactionID: id, nodeAccountID: node.account, transactionFee: configuration.maxTransactionFee,
                                   validDurationSeconds: 120, memo: memo, data: data)
        var tx = SignedTransaction(body: body)
        for key in [payer.key] + extraSigners { tx.sign(with: key) }
        let bytes = tx.transactionBytes()

        var retry = configuration.retry
        while true {
            let code = try HAPIReceiptCodec.decodeTransactionResponse(try await call(method, bytes))
            switch retry.receive(code) {
            case .done:
                guard code == .ok else {
                    throw LedgerError(.rejected, "node \(node.account) refused \(id) at precheck: \(code).")
                }
                return try await receipt(for: id, accepting: accepting)
            case .retry(let delay):
                try await Task.sleep(for: delay)
            case .fail(_, let message):
                throw LedgerError(.rejected, message)
            }
        }
    }

    /// Polls `getTransactionReceipts` until the transaction reached consensus.
    func receipt(for id: TransactionID, accepting: Set<HAPIResponseCode> = []) async throws -> TransactionReceipt {
        for _ in 0..<max(1, configuration.receiptAttempts) {
            let (precheck, receipt) = try HAPIReceiptCodec.decodeReceiptResponse(try await call(HAPIMethod.getTransactionReceipts,
                                                                                                HAPIReceiptCodec.encodeReceiptQuery(id)))
            if precheck.isRetryable || precheck == .receiptNotFound || receipt?.status == .unknown || receipt == nil {
                try await Task.sleep(for: configuration.receiptInterval)
                continue
            }
            guard let receipt, receipt.status == .success || accepting.contains(receipt.status) else {
                throw LedgerError(.rejected, "transaction \(id) failed: \(receipt?.status ?? precheck).")
            }
            return TransactionReceipt(
                transactionID: id, consensusTimestamp: id.validStart, accountID: receipt.accountID, topicID: receipt.topicID,
                topicSequenceNumber: receipt.topicSequenceNumber == 0 ? nil : Int64(receipt.topicSequenceNumber),
                topicRunningHash: receipt.topicRunningHash.isEmpty ? nil : receipt.topicRunningHash,
                isIdempotentReplay: receipt.status == .identicalScheduleAlreadyCreated,
                scheduleID: receipt.scheduleID, scheduledTransactionID: receipt.scheduledTransactionID)
        }
        throw LedgerError(.rejected, "no receipt for \(id) after \(configuration.receiptAttempts) queries; look it up on the mirror node.")
    }

    private func call(_ method: MethodDescriptor, _ bytes: [UInt8]) async throws -> [UInt8] {
        do {
            var options = CallOptions.defaults
            options.timeout = configuration.callTimeout
            return try await client.unary(request: ClientRequest(message: bytes), descriptor: method, serializer: HAPIBytesCoder(),
                                          deserializer: HAPIBytesCoder(), options: options) { try $0.message }
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError(.storage, "the gRPC call \(method) failed; check the node address and the network.", cause: error)
        }
    }

    func nextValidStart(reserving count: Int = 1) -> ConsensusTimestamp {
        let now = configuration.clock()
        return lastValidStart.withLock { last in
            let start = now > last ? now : last.adding(nanoseconds: 1)
            last = start.adding(nanoseconds: Int64(max(count, 1) - 1))
            return start
        }
    }

    // MARK: Ledger

    public func createAccount(publicKey: Ed25519PublicKey, initialBalance: Int64, payer: LedgerOperator) async throws -> AccountID {
        guard initialBalance >= 0 else { throw LedgerError(.invalidArgument, "an initial balance cannot be negative.") }
        let r = try await execute(.cryptoCreateAccount(key: .ed25519(publicKey.rawRepresentation), initialBalance: UInt64(initialBalance)), payer: payer)
        guard let id = r.accountID else { throw LedgerError(.rejected, "the receipt of \(r.transactionID) names no account.") }
        return id
    }

    public func balance(of account: AccountID) async throws -> Int64 {
        let body = try await mirror.get("/api/v1/balances?account.id=\(account)")
        guard let root = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let list = root["balances"] as? [[String: Any]],
              let entry = list.first(where: { $0["account"] as? String == account.description }),
              let balance = entry["balance"] as? Int
        else { throw LedgerError(.notFound, "the mirror node has no balance for \(account).") }
        return Int64(balance)
    }

    @discardableResult
    public func transfer(_ amount: Int64, from: LedgerOperator, to: AccountID) async throws -> TransactionReceipt {
        try EscrowState.requirePositive(amount)
        return try await execute(.cryptoTransfer([.init(account: from.account, amount: -amount), .init(account: to, amount: amount)]), payer: from)
    }

    public func createTopic(memo: String, submitKey: Ed25519PublicKey?, payer: LedgerOperator) async throws -> TopicID {
        let r = try await execute(.consensusCreateTopic(.init(memo: memo, submitKey: submitKey.map { .ed25519($0.rawRepresentation) })), payer: payer)
        guard let id = r.topicID else { throw LedgerError(.rejected, "the receipt of \(r.transactionID) names no topic.") }
        return id
    }

    @discardableResult
    public func submitMessage(_ message: [UInt8], to topic: TopicID, payer: LedgerOperator, submitKey: Ed25519PrivateKey?) async throws -> [TransactionReceipt] {
        let chunkCount = (message.count + MessageChunker.chunkSize - 1) / MessageChunker.chunkSize
        let initial = TransactionID(payer: payer.account, validStart: nextValidStart(reserving: chunkCount))
        var receipts: [TransactionReceipt] = []
        for chunk in try MessageChunker.split(message, topic: topic, initialTransactionID: initial) {
            receipts.append(try await execute(.consensusSubmitMessage(chunk.submit), payer: payer,
                                              extraSigners: submitKey.map { [$0] } ?? [], transactionID: chunk.transactionID))
        }
        return receipts
    }

    public func messages(topic: TopicID, from sequenceNumber: Int64, limit: Int) async throws -> [TopicMessage] {
        var out: [TopicMessage] = []
        var path: String? = "/api/v1/topics/\(topic)/messages?sequencenumber=gte:\(sequenceNumber)&limit=\(min(max(limit, 1), 100))&order=asc"
        // Bounded paging: at most limit/1 pages, each of at least one message.
        var pages = 0
        while let p = path, out.count < limit, pages <= limit {
            let page = try MirrorNodeTopicPage(json: try await mirror.get(p))
            out += page.messages
            path = page.messages.isEmpty ? nil : page.next
            pages += 1
        }
        return Array(out.prefix(limit))
    }

    public func verifyTopic(_ topic: TopicID) async throws -> TopicVerification {
        var verifier = TopicVerifier(topic: topic)
        var next: Int64 = 1
        while true {
            let page = try await messages(topic: topic, from: next, limit: 100)
            for m in page { if case .failed = verifier.receive(m) { return verifier.result } }
            guard let last = page.last, page.count == 100 else { return verifier.result }
            next = last.sequenceNumber + 1
        }
    }
}
