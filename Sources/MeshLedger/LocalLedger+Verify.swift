internal import GRDB
internal import Foundation

extension LocalLedger {
    /// Checks the whole file: every topic's running-hash chain, then a replay of
    /// the log (signatures, rules, consensus order) into a fresh in-memory
    /// database whose state tables must equal the stored ones.
    ///
    /// Reads one consistent snapshot; other processes may keep writing.
    /// - Complexity: O(log size); the log and state are held in memory.
    public func verify() async throws -> LedgerVerification {
        let processor = self.processor
        let snapshot = try await read { db in try Snapshot(db) }
        var result = LedgerVerification(transactions: snapshot.log.count, messages: 0, problem: nil)

        // 1. Topic chains, from the stored messages alone.
        for (topic, messages) in snapshot.messagesByTopic {
            var verifier = TopicVerifier(topic: topic)
            for m in messages { verifier.receive(m) }
            result.messages += messages.count
            if case .failed(let seq, let reason) = verifier.result {
                result.problem = .init(logSequence: nil, topic: topic, topicSequence: seq, reason: reason)
                return result
            }
        }

        // 2. Replay the log into memory.
        do {
            let replay = try DatabaseQueue()
            let problem: LedgerVerification.Problem? = try await replay.write { db in
                try db.execute(sql: LedgerSchema.logTables)
                try db.execute(sql: LedgerSchema.stateTablesSQL)
                try LedgerSchema.genesis(db, treasuryPublicKey: snapshot.treasuryPublicKey)
                let store = LedgerStore(db: db)
                var last: ConsensusTimestamp?
                for (i, entry) in snapshot.log.enumerated() {
                    func fail(_ reason: String) -> LedgerVerification.Problem {
                        .init(logSequence: entry.seq, topic: nil, topicSequence: nil, reason: reason)
                    }
                    guard entry.seq == Int64(i + 1) else { return fail("log entry numbers skip from \(i) to \(entry.seq)") }
                    if let last, entry.consensus <= last { return fail("consensus time \(entry.consensus) does not follow \(last)") }
                    last = entry.consensus
                    do {
                        let tx = try SignedTransaction(transactionBytes: entry.bytes)
                        guard try tx.body().transactionID.description == entry.txID else {
                            return fail("the stored transaction id \(entry.txID) does not match the signed body")
                        }
                        switch try processor.apply(tx, logSeq: entry.seq, consensus: entry.consensus, store: store) {
                        case .applied(let r):
                            try store.appendLog(seq: entry.seq, id: r.transactionID, consensus: entry.consensus, bytes: entry.bytes)
                        case .unchanged:
                            return fail("the transaction changes nothing on replay (a repeated release was logged)")
                        }
                    } catch let error as LedgerError {
                        return fail("replay rejects it: \(error.message)")
                    }
                }
                for (table, order) in LedgerSchema.stateTables {
                    let replayed = try Self.dump(db, table: table, order: order)
                    guard let stored = snapshot.tables[table] else { return .init(reason: "table \(table) is missing") }
                    if let diff = Self.firstDifference(stored, replayed) {
                        return .init(logSequence: nil, topic: nil, topicSequence: nil,
                                     reason: "table \(table) differs from the replayed log at row \(diff + 1): stored \(Self.show(stored, diff)), replay gives \(Self.show(replayed, diff))")
                    }
                }
                return nil
            }
            result.problem = problem
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError(.storage, "could not replay the ledger log in memory.", cause: error)
        }
        return result
    }

    /// Everything verification needs, read in one transaction.
    private struct Snapshot: Sendable {
        struct Entry: Sendable {
            var seq: Int64
            var txID: String
            var consensus: ConsensusTimestamp
            var bytes: [UInt8]
        }

        var treasuryPublicKey: Ed25519PublicKey
        var log: [Entry]
        var tables: [String: [[DatabaseValue]]]
        var messagesByTopic: [(TopicID, [TopicMessage])]

        init(_ db: Database) throws {
            let seed = try Data.fetchOne(try db.cachedStatement(sql: "SELECT value FROM meta WHERE key = 'treasury_seed'")) ?? Data()
            treasuryPublicKey = try Ed25519PrivateKey(rawRepresentation: seed).publicKey
            log = try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM tx_log ORDER BY seq")).map {
                Entry(seq: $0["seq"], txID: $0["tx_id"],
                      consensus: ConsensusTimestamp(seconds: $0["consensus_seconds"], nanos: $0["consensus_nanos"]),
                      bytes: Array($0["tx_bytes"] as Data))
            }
            var tables: [String: [[DatabaseValue]]] = [:]
            for (table, order) in LedgerSchema.stateTables {
                tables[table] = try LocalLedger.dump(db, table: table, order: order)
            }
            self.tables = tables
            let store = LedgerStore(db: db)
            messagesByTopic = try Int64.fetchAll(try db.cachedStatement(sql: "SELECT num FROM topics ORDER BY num")).map { num in
                (TopicID(num: num), try store.messages(TopicID(num: num), from: 1, limit: Int.max))
            }
        }
    }

    static func dump(_ db: Database, table: String, order: String) throws -> [[DatabaseValue]] {
        try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM \(table) ORDER BY \(order)")).map { Array($0.databaseValues) }
    }

    static func firstDifference(_ a: [[DatabaseValue]], _ b: [[DatabaseValue]]) -> Int? {
        for i in 0..<max(a.count, b.count) {
            if i >= a.count || i >= b.count || a[i] != b[i] { return i }
        }
        return nil
    }

    static func show(_ rows: [[DatabaseValue]], _ i: Int) -> String {
        guard i < rows.count else { return "no row" }
        return "(" + rows[i].map { v in
            if case .blob(let d) = v.storage { return "x'\(HexCoding.encode(d.prefix(8)))…'" }
            return v.description
        }.joined(separator: ", ") + ")"
    }
}

extension LedgerVerification.Problem {
    init(reason: String) {
        self.init(logSequence: nil, topic: nil, topicSequence: nil, reason: reason)
    }
}
