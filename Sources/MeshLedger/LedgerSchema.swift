internal import GRDB
internal import Foundation

/// The SQLite schema of a `LocalLedger` file and its genesis state.
///
/// `meta` and `tx_log` are the source of truth; every other table is state
/// that `LocalLedger.verify()` rebuilds by replaying `tx_log` and compares.
enum LedgerSchema {
    /// Bumped when the file format changes incompatibly.
    static let formatVersion: Int64 = 1
    /// The treasury and faucet account, also where slashed stakes go.
    static let treasury = AccountID(num: 2)
    /// The first number handed to a new account or topic.
    static let firstEntityNumber: Int64 = 1001
    /// The treasury's balance at genesis: 50 billion hbar, Hedera's total supply.
    static let genesisSupply: Int64 = 50_000_000_000 * 100_000_000

    /// Tables rebuilt by replay, with the columns they are compared in.
    static let stateTables: [(name: String, order: String)] = [
        ("accounts", "num"),
        ("counters", "name"),
        ("escrows", "job"),
        ("escrow_releases", "job, task"),
        ("stakes", "account"),
        ("slashes", "log_seq"),
        ("topics", "num"),
        ("topic_messages", "topic, sequence"),
        ("schedules", "num"),
        ("schedule_signatures", "schedule, key"),
    ]

    static let logTables = """
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS tx_log (
            seq INTEGER PRIMARY KEY,
            tx_id TEXT NOT NULL UNIQUE,
            consensus_seconds INTEGER NOT NULL,
            consensus_nanos INTEGER NOT NULL,
            tx_bytes BLOB NOT NULL);
        """

    static let stateTablesSQL = """
        CREATE TABLE IF NOT EXISTS accounts (
            num INTEGER PRIMARY KEY, key BLOB NOT NULL, balance INTEGER NOT NULL CHECK (balance >= 0));
        CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS escrows (
            job TEXT PRIMARY KEY, owner INTEGER NOT NULL, locked INTEGER NOT NULL,
            released INTEGER NOT NULL, refunded INTEGER NOT NULL, open INTEGER NOT NULL,
            CHECK (released >= 0 AND refunded >= 0 AND released + refunded <= locked));
        CREATE TABLE IF NOT EXISTS escrow_releases (
            job TEXT NOT NULL, task TEXT NOT NULL, recipient INTEGER NOT NULL, amount INTEGER NOT NULL,
            log_seq INTEGER NOT NULL, PRIMARY KEY (job, task));
        CREATE TABLE IF NOT EXISTS stakes (
            account INTEGER PRIMARY KEY, staked INTEGER NOT NULL CHECK (staked >= 0),
            unlocks_seconds INTEGER NOT NULL, unlocks_nanos INTEGER NOT NULL, slashed_total INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS slashes (
            log_seq INTEGER PRIMARY KEY, account INTEGER NOT NULL, amount INTEGER NOT NULL, evidence_cid TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS topics (
            num INTEGER PRIMARY KEY, memo TEXT NOT NULL, admin_key BLOB, submit_key BLOB,
            sequence INTEGER NOT NULL, running_hash BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS topic_messages (
            topic INTEGER NOT NULL, sequence INTEGER NOT NULL,
            consensus_seconds INTEGER NOT NULL, consensus_nanos INTEGER NOT NULL,
            payer INTEGER NOT NULL, contents BLOB NOT NULL, running_hash BLOB NOT NULL,
            chunk_initial BLOB, chunk_total INTEGER, chunk_number INTEGER, log_seq INTEGER NOT NULL,
            PRIMARY KEY (topic, sequence));
        CREATE TABLE IF NOT EXISTS schedules (
            num INTEGER PRIMARY KEY, identity BLOB NOT NULL UNIQUE, body BLOB NOT NULL, payer INTEGER NOT NULL,
            creator_tx BLOB NOT NULL, executed_seconds INTEGER, executed_nanos INTEGER);
        CREATE TABLE IF NOT EXISTS schedule_signatures (
            schedule INTEGER NOT NULL, key BLOB NOT NULL, PRIMARY KEY (schedule, key));
        """

    /// Creates the tables; on an empty file also writes `meta` and the genesis state.
    static func create(_ db: Database, treasuryKey: Ed25519PrivateKey, cooldownSeconds: Int64) throws {
        try db.execute(sql: logTables)
        try db.execute(sql: stateTablesSQL)
        guard try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'format'") == nil else { return }
        func put(_ key: String, _ value: some DatabaseValueConvertible) throws {
            try db.execute(sql: "INSERT INTO meta (key, value) VALUES (?, ?)", arguments: [key, value])
        }
        try put("format", formatVersion)
        try put("treasury_seed", Data(treasuryKey.rawRepresentation))
        try put("cooldown_seconds", cooldownSeconds)
        try genesis(db, treasuryPublicKey: treasuryKey.publicKey)
    }

    /// The state before the first transaction: the treasury holding the whole supply.
    static func genesis(_ db: Database, treasuryPublicKey: Ed25519PublicKey) throws {
        var w = ProtobufWriter()
        HAPIKey.ed25519(treasuryPublicKey.rawRepresentation).encode(into: &w)
        try db.execute(sql: "INSERT INTO accounts (num, key, balance) VALUES (?, ?, ?)",
                       arguments: [treasury.num, Data(w.bytes), genesisSupply])
        try db.execute(sql: "INSERT INTO counters (name, value) VALUES ('next_entity', ?)", arguments: [firstEntityNumber])
    }
}
