internal import GRDB

// The `Ledger` operations of LocalLedger, each a signed transaction through `submit`.

extension LocalLedger {
    public func createAccount(publicKey: Ed25519PublicKey, initialBalance: Int64, payer: LedgerOperator) async throws -> AccountID {
        guard initialBalance >= 0 else { throw LedgerError(.invalidArgument, "an initial balance cannot be negative.") }
        let r = try await execute(.cryptoCreateAccount(key: .ed25519(publicKey.rawRepresentation), initialBalance: UInt64(initialBalance)), payer: payer)
        return r.accountID!
    }

    public func balance(of account: AccountID) async throws -> Int64 {
        try await read { db in
            guard let b = try LedgerStore(db: db).balance(account) else {
                throw LedgerError(.notFound, "account \(account) does not exist in this ledger.")
            }
            return b
        }
    }

    @discardableResult
    public func transfer(_ amount: Int64, from: LedgerOperator, to: AccountID) async throws -> TransactionReceipt {
        try EscrowState.requirePositive(amount)
        return try await execute(.cryptoTransfer([.init(account: from.account, amount: -amount), .init(account: to, amount: amount)]), payer: from)
    }

    @discardableResult
    public func lockEscrow(job: String, amount: Int64, owner: LedgerOperator) async throws -> TransactionReceipt {
        try await execute(.meshfl(.escrowLock(job: job, amount: amount)), payer: owner)
    }

    @discardableResult
    public func releaseEscrow(job: String, task: String, to: AccountID, amount: Int64, owner: LedgerOperator) async throws -> TransactionReceipt {
        try await execute(.meshfl(.escrowRelease(job: job, task: task, recipient: to, amount: amount)), payer: owner)
    }

    /// One `escrowReleases` transaction: every release or none.
    @discardableResult
    public func releaseEscrow(job: String, releases: [EscrowRelease], owner: LedgerOperator) async throws -> TransactionReceipt {
        try await execute(.meshfl(.escrowReleases(job: job, releases: releases)), payer: owner)
    }

    @discardableResult
    public func refundEscrow(job: String, owner: LedgerOperator) async throws -> TransactionReceipt {
        try await execute(.meshfl(.escrowRefund(job: job)), payer: owner)
    }

    public func escrow(job: String) async throws -> EscrowState? {
        try await read { db in try LedgerStore(db: db).escrow(job) }
    }

    @discardableResult
    public func stake(_ amount: Int64, trainer: LedgerOperator) async throws -> TransactionReceipt {
        try await execute(.meshfl(.stake(amount: amount)), payer: trainer)
    }

    @discardableResult
    public func unstake(_ amount: Int64, trainer: LedgerOperator) async throws -> TransactionReceipt {
        try await execute(.meshfl(.unstake(amount: amount)), payer: trainer)
    }

    @discardableResult
    public func slash(_ account: AccountID, amount: Int64, evidenceCID: String, authority: LedgerOperator) async throws -> TransactionReceipt {
        try await execute(.meshfl(.slash(account: account, amount: amount, evidenceCID: evidenceCID)), payer: authority)
    }

    public func stake(of account: AccountID) async throws -> StakeState {
        try await read { db in try LedgerStore(db: db).stake(account) }
    }

    public func createTopic(memo: String, submitKey: Ed25519PublicKey?, payer: LedgerOperator) async throws -> TopicID {
        let r = try await execute(.consensusCreateTopic(.init(memo: memo, submitKey: submitKey.map { .ed25519($0.rawRepresentation) })), payer: payer)
        return r.topicID!
    }

    @discardableResult
    public func submitMessage(_ message: [UInt8], to topic: TopicID, payer: LedgerOperator, submitKey: Ed25519PrivateKey?) async throws -> [TransactionReceipt] {
        let chunkCount = (message.count + MessageChunker.chunkSize - 1) / MessageChunker.chunkSize
        let initial = TransactionID(payer: payer.account, validStart: nextValidStart(reserving: chunkCount))
        let chunks = try MessageChunker.split(message, topic: topic, initialTransactionID: initial)
        var receipts: [TransactionReceipt] = []
        for chunk in chunks {
            var b = body(.consensusSubmitMessage(chunk.submit), payer: payer.account, validStart: chunk.transactionID.validStart)
            b.transactionID = chunk.transactionID
            receipts.append(try await submit(sign(b, with: [payer.key] + (submitKey.map { [$0] } ?? []))))
        }
        return receipts
    }

    public func messages(topic: TopicID, from sequenceNumber: Int64 = 1, limit: Int = 1000) async throws -> [TopicMessage] {
        let limit = max(0, min(limit, 100_000))
        return try await read { db in
            guard try LedgerStore(db: db).topic(topic) != nil else {
                throw LedgerError(.notFound, "topic \(topic) does not exist.")
            }
            return try LedgerStore(db: db).messages(topic, from: sequenceNumber, limit: limit)
        }
    }

    public func verifyTopic(_ topic: TopicID) async throws -> TopicVerification {
        var verifier = TopicVerifier(topic: topic)
        var next: Int64 = 1
        // Pages of 1,000 keep memory flat on long topics.
        while true {
            let page = try await messages(topic: topic, from: next, limit: 1000)
            for m in page {
                if case .failed = verifier.receive(m) { return verifier.result }
            }
            guard let last = page.last, page.count == 1000 else { break }
            next = last.sequenceNumber + 1
        }
        return verifier.result
    }

    // MARK: Development conveniences

    /// The dev faucet: moves `amount` tinybars from the treasury to `account`.
    @discardableResult
    public func fund(_ account: AccountID, amount: Int64) async throws -> TransactionReceipt {
        try await transfer(amount, from: treasury, to: account)
    }

    /// Creates an account with a fresh key, funded by the faucet; returns it with its key.
    public func createFundedAccount(balance: Int64) async throws -> LedgerOperator {
        let key = Ed25519PrivateKey()
        let id = try await createAccount(publicKey: key.publicKey, initialBalance: balance, payer: treasury)
        return LedgerOperator(account: id, key: key)
    }

    /// Every account and its balance, by number.
    public func accounts() async throws -> [(account: AccountID, balance: Int64)] {
        try await read { db in try LedgerStore(db: db).accounts().map { (account: $0.0, balance: $0.1) } }
    }

    /// Every escrow, by job id.
    public func escrows() async throws -> [EscrowState] {
        try await read { db in
            try String.fetchAll(try db.cachedStatement(sql: "SELECT job FROM escrows ORDER BY job")).compactMap { try LedgerStore(db: db).escrow($0) }
        }
    }

    /// Every topic id.
    public func topics() async throws -> [TopicID] {
        try await read { db in try Int64.fetchAll(try db.cachedStatement(sql: "SELECT num FROM topics ORDER BY num")).map { TopicID(num: $0) } }
    }

    /// The number of transactions in the log.
    public func logCount() async throws -> Int {
        try await read { db in try Int.fetchOne(try db.cachedStatement(sql: "SELECT COUNT(*) FROM tx_log")) ?? 0 }
    }
}
