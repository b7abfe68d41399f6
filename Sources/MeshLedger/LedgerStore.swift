internal import GRDB
internal import Foundation

/// Reads and writes ledger state rows inside one open SQLite transaction.
///
/// All rule checks live in the value types (`EscrowState`, `StakeState`) and in
/// `TransactionProcessor`; this type only moves rows.
struct LedgerStore {
    let db: Database

    // MARK: Accounts

    func accountKey(_ id: AccountID) throws -> HAPIKey? {
        guard id.shard == 0, id.realm == 0 else { return nil }
        guard let data = try Data.fetchOne(try db.cachedStatement(sql: "SELECT key FROM accounts WHERE num = ?"), arguments: [id.num]) else { return nil }
        return try HAPIKey.decode(ArraySlice(data))
    }

    func requireAccountKey(_ id: AccountID, role: String) throws -> HAPIKey {
        guard let key = try accountKey(id) else {
            throw LedgerError(.notFound, "the \(role) account \(id) does not exist in this ledger; create it first (meshfl ledger fund creates funded dev accounts).")
        }
        return key
    }

    func balance(_ id: AccountID) throws -> Int64? {
        guard id.shard == 0, id.realm == 0 else { return nil }
        return try Int64.fetchOne(try db.cachedStatement(sql: "SELECT balance FROM accounts WHERE num = ?"), arguments: [id.num])
    }

    /// Adds `delta` (negative to debit) to a balance; throws if the account is missing or would go negative.
    func adjustBalance(_ id: AccountID, by delta: Int64) throws {
        guard let current = try balance(id) else {
            throw LedgerError(.notFound, "account \(id) does not exist in this ledger.")
        }
        let (next, overflow) = current.addingReportingOverflow(delta)
        guard !overflow else { throw LedgerError(.invalidArgument, "the balance of \(id) would overflow 64 bits.") }
        guard next >= 0 else {
            throw LedgerError(.insufficientBalance, "account \(id) has \(current) tinybars and cannot pay \(-delta); fund it first.")
        }
        try db.run(sql: "UPDATE accounts SET balance = ? WHERE num = ?", arguments: [next, id.num])
    }

    func insertAccount(key: HAPIKey) throws -> AccountID {
        let num = try nextEntityNumber()
        var w = ProtobufWriter()
        key.encode(into: &w)
        try db.run(sql: "INSERT INTO accounts (num, key, balance) VALUES (?, ?, 0)", arguments: [num, Data(w.bytes)])
        return AccountID(num: num)
    }

    func accounts() throws -> [(AccountID, Int64)] {
        try Row.fetchAll(try db.cachedStatement(sql: "SELECT num, balance FROM accounts ORDER BY num")).map { (AccountID(num: $0["num"]), $0["balance"]) }
    }

    func nextEntityNumber() throws -> Int64 {
        let n = try Int64.fetchOne(try db.cachedStatement(sql: "SELECT value FROM counters WHERE name = 'next_entity'")) ?? LedgerSchema.firstEntityNumber
        try db.run(sql: "INSERT OR REPLACE INTO counters (name, value) VALUES ('next_entity', ?)", arguments: [n + 1])
        return n
    }

    // MARK: Escrow

    func escrow(_ job: String) throws -> EscrowState? {
        try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM escrows WHERE job = ?"), arguments: [job]).map {
            EscrowState(job: $0["job"], owner: AccountID(num: $0["owner"]), locked: $0["locked"],
                        released: $0["released"], refunded: $0["refunded"], isOpen: $0["open"])
        }
    }

    func save(_ e: EscrowState) throws {
        try db.run(sql: """
            INSERT OR REPLACE INTO escrows (job, owner, locked, released, refunded, open) VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [e.job, e.owner.num, e.locked, e.released, e.refunded, e.isOpen])
    }

    /// An earlier release for `task`: recipient, amount and the log entry that made it.
    func release(job: String, task: String) throws -> (recipient: AccountID, amount: Int64, logSeq: Int64)? {
        try Row.fetchOne(try db.cachedStatement(sql: "SELECT recipient, amount, log_seq FROM escrow_releases WHERE job = ? AND task = ?"),
                         arguments: [job, task]).map { (AccountID(num: $0["recipient"]), $0["amount"], $0["log_seq"]) }
    }

    func insertRelease(job: String, task: String, recipient: AccountID, amount: Int64, logSeq: Int64) throws {
        try db.run(sql: "INSERT INTO escrow_releases (job, task, recipient, amount, log_seq) VALUES (?, ?, ?, ?, ?)",
                       arguments: [job, task, recipient.num, amount, logSeq])
    }

    // MARK: Stakes

    func stake(_ id: AccountID) throws -> StakeState {
        try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM stakes WHERE account = ?"), arguments: [id.num]).map {
            StakeState(account: id, staked: $0["staked"],
                       unlocksAt: ConsensusTimestamp(seconds: $0["unlocks_seconds"], nanos: $0["unlocks_nanos"]),
                       slashedTotal: $0["slashed_total"])
        } ?? StakeState(account: id)
    }

    func save(_ s: StakeState) throws {
        try db.run(sql: """
            INSERT OR REPLACE INTO stakes (account, staked, unlocks_seconds, unlocks_nanos, slashed_total) VALUES (?, ?, ?, ?, ?)
            """, arguments: [s.account.num, s.staked, s.unlocksAt.seconds, s.unlocksAt.nanos, s.slashedTotal])
    }

    func insertSlash(logSeq: Int64, account: AccountID, amount: Int64, evidenceCID: String) throws {
        try db.run(sql: "INSERT INTO slashes (log_seq, account, amount, evidence_cid) VALUES (?, ?, ?, ?)",
                       arguments: [logSeq, account.num, amount, evidenceCID])
    }

    // MARK: Topics

    struct TopicRow {
        var submitKey: HAPIKey?
        var sequence: Int64
        var runningHash: [UInt8]
    }

    func topic(_ id: TopicID) throws -> TopicRow? {
        guard id.shard == 0, id.realm == 0 else { return nil }
        return try Row.fetchOne(try db.cachedStatement(sql: "SELECT submit_key, sequence, running_hash FROM topics WHERE num = ?"), arguments: [id.num]).map {
            let key: Data? = $0["submit_key"]
            return TopicRow(submitKey: try key.map { try HAPIKey.decode(ArraySlice($0)) },
                            sequence: $0["sequence"], runningHash: Array($0["running_hash"] as Data))
        }
    }

    func insertTopic(memo: String, adminKey: HAPIKey?, submitKey: HAPIKey?) throws -> TopicID {
        let num = try nextEntityNumber()
        func blob(_ k: HAPIKey?) -> Data? {
            k.map { k in var w = ProtobufWriter(); k.encode(into: &w); return Data(w.bytes) }
        }
        try db.run(sql: "INSERT INTO topics (num, memo, admin_key, submit_key, sequence, running_hash) VALUES (?, ?, ?, ?, 0, ?)",
                       arguments: [num, memo, blob(adminKey), blob(submitKey), Data(HCSRunningHash.initial)])
        return TopicID(num: num)
    }

    func append(_ m: TopicMessage, logSeq: Int64) throws {
        var initial: Data?
        if let c = m.chunkInfo {
            var w = ProtobufWriter()
            c.initialTransactionID.encode(into: &w)
            initial = Data(w.bytes)
        }
        try db.run(sql: """
            INSERT INTO topic_messages (topic, sequence, consensus_seconds, consensus_nanos, payer, contents, running_hash,
                                        chunk_initial, chunk_total, chunk_number, log_seq)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [m.topic.num, m.sequenceNumber, m.consensusTimestamp.seconds, m.consensusTimestamp.nanos,
                             m.payer.num, Data(m.contents), Data(m.runningHash), initial,
                             m.chunkInfo?.total, m.chunkInfo?.number, logSeq])
        try db.run(sql: "UPDATE topics SET sequence = ?, running_hash = ? WHERE num = ?",
                       arguments: [m.sequenceNumber, Data(m.runningHash), m.topic.num])
    }

    func messages(_ topic: TopicID, from sequence: Int64, limit: Int) throws -> [TopicMessage] {
        try Row.fetchAll(try db.cachedStatement(sql: """
            SELECT * FROM topic_messages WHERE topic = ? AND sequence >= ? ORDER BY sequence LIMIT ?
            """), arguments: [topic.num, sequence, limit]).map { row in
            var chunk: TransactionBody.ChunkInfo?
            if let initial = row["chunk_initial"] as Data? {
                chunk = TransactionBody.ChunkInfo(initialTransactionID: try TransactionID.decode(ArraySlice(initial)),
                                                  total: row["chunk_total"], number: row["chunk_number"])
            }
            return TopicMessage(topic: topic, sequenceNumber: row["sequence"],
                                consensusTimestamp: ConsensusTimestamp(seconds: row["consensus_seconds"], nanos: row["consensus_nanos"]),
                                runningHash: Array(row["running_hash"] as Data), payer: AccountID(num: row["payer"]),
                                contents: Array(row["contents"] as Data), chunkInfo: chunk)
        }
    }

    // MARK: Log

    func lastConsensus() throws -> ConsensusTimestamp? {
        try Row.fetchOne(try db.cachedStatement(sql: "SELECT consensus_seconds, consensus_nanos FROM tx_log ORDER BY seq DESC LIMIT 1")).map {
            ConsensusTimestamp(seconds: $0[0], nanos: $0[1])
        }
    }

    func nextLogSeq() throws -> Int64 {
        (try Int64.fetchOne(try db.cachedStatement(sql: "SELECT MAX(seq) FROM tx_log")) ?? 0) + 1
    }

    func hasTransaction(_ id: TransactionID) throws -> Bool {
        try Bool.fetchOne(try db.cachedStatement(sql: "SELECT 1 FROM tx_log WHERE tx_id = ?"), arguments: [id.description]) ?? false
    }

    func appendLog(seq: Int64, id: TransactionID, consensus: ConsensusTimestamp, bytes: [UInt8]) throws {
        try db.run(sql: "INSERT INTO tx_log (seq, tx_id, consensus_seconds, consensus_nanos, tx_bytes) VALUES (?, ?, ?, ?, ?)",
                       arguments: [seq, id.description, consensus.seconds, consensus.nanos, Data(bytes)])
    }
}

extension LedgerStore {
    /// The transaction id and consensus time of log entry `seq`.
    func logEntryTime(seq: Int64) throws -> (id: TransactionID, consensus: ConsensusTimestamp) {
        guard let row = try Row.fetchOne(try db.cachedStatement(sql: "SELECT tx_bytes, consensus_seconds, consensus_nanos FROM tx_log WHERE seq = ?"), arguments: [seq]) else {
            throw LedgerError(.verificationFailed, "log entry \(seq) is missing; run `meshfl ledger verify`.")
        }
        let tx = try SignedTransaction(transactionBytes: Array(row["tx_bytes"] as Data))
        return (try tx.body().transactionID, ConsensusTimestamp(seconds: row["consensus_seconds"], nanos: row["consensus_nanos"]))
    }
}

extension Database {
    /// Runs one SQL statement through the connection's statement cache: the
    /// hot statements of a transaction are compiled once per connection, not
    /// on every call.
    func run(sql: String, arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}
