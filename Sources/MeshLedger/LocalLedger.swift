internal import GRDB
internal import Foundation
internal import Synchronization

/// The embedded development ledger: one SQLite file (WAL) through GRDB.
///
/// Every change is an Ed25519-signed HAPI transaction, checked and applied in
/// one `BEGIN IMMEDIATE` SQLite transaction together with its append to
/// `tx_log`, so several processes may share the file without double spending.
/// The state tables can be rebuilt from the log: see ``verify()``.
///
/// Account 0.0.2 is the treasury: it starts with the whole supply, funds dev
/// accounts (the faucet, ``fund(_:amount:)``), is the slashing authority and
/// receives slashed stakes. Its key lives in the file — a development
/// convenience; never use a local ledger file for real value. Fees are not
/// charged.
///
/// ```swift
/// let ledger = try LocalLedger(path: "dev.ledger")
/// let alice = try await ledger.createFundedAccount(balance: 1_000_000)
/// ```
public final class LocalLedger: Ledger {
    /// Options for opening a ledger file.
    public struct Configuration: Sendable {
        /// Stake cooldown for a new file; an existing file keeps its own.
        public var stakeCooldownSeconds: Int64 = 7 * 24 * 3600
        /// How long a writer waits for another process's write before failing.
        public var busyTimeoutSeconds: Double = 30
        /// The source of consensus time (wall clock by default; tests pass a manual clock).
        public var clock: @Sendable () -> ConsensusTimestamp = LocalLedger.wallClock
        /// The node account written into transactions this ledger builds.
        public var nodeAccountID = AccountID(num: 3)
        /// Creates the default configuration.
        public init() {}
    }

    /// The file's path.
    public let path: String
    let pool: DatabasePool
    let configuration: Configuration
    let processor: TransactionProcessor
    let treasuryKey: Ed25519PrivateKey
    /// The last valid start this instance put in a transaction id (ids must not repeat).
    private let lastValidStart = Mutex(ConsensusTimestamp(seconds: 0))

    /// Opens `path`, creating a new ledger there if the file is missing or empty.
    public init(path: String, configuration: Configuration = Configuration()) throws(LedgerError) {
        self.path = path
        self.configuration = configuration
        var config = GRDB.Configuration()
        config.busyMode = .timeout(configuration.busyTimeoutSeconds)
        config.label = "meshfl.ledger"
        do {
            let pool = try DatabasePool(path: path, configuration: config)
            let seed = Ed25519PrivateKey()
            let cooldown = configuration.stakeCooldownSeconds
            let (treasurySeed, storedCooldown) = try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    try LedgerSchema.create(db, treasuryKey: seed, cooldownSeconds: cooldown)
                    return .commit
                }
                let format = try Int64.fetchOne(try db.cachedStatement(sql: "SELECT value FROM meta WHERE key = 'format'"))
                guard format == LedgerSchema.formatVersion else {
                    throw LedgerError(.storage, "\(path) has ledger format \(format.map(String.init) ?? "none"), this build reads \(LedgerSchema.formatVersion); use a matching meshfl.")
                }
                let s = try Data.fetchOne(try db.cachedStatement(sql: "SELECT value FROM meta WHERE key = 'treasury_seed'")) ?? Data()
                let c = try Int64.fetchOne(try db.cachedStatement(sql: "SELECT value FROM meta WHERE key = 'cooldown_seconds'")) ?? cooldown
                return (s, c)
            }
            self.pool = pool
            self.treasuryKey = try Ed25519PrivateKey(rawRepresentation: treasurySeed)
            self.processor = TransactionProcessor(cooldownSeconds: storedCooldown)
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError(.storage, "cannot open the ledger at \(path); check the path and its permissions.", cause: error)
        }
    }

    /// The current time from the system clock.
    @Sendable public static func wallClock() -> ConsensusTimestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return ConsensusTimestamp(seconds: Int64(ts.tv_sec), nanos: Int32(ts.tv_nsec))
    }

    /// The treasury (faucet and slashing authority) of this file.
    public var treasury: LedgerOperator { LedgerOperator(account: LedgerSchema.treasury, key: treasuryKey) }

    /// Seconds a stake stays locked after staking, as stored in the file.
    public var stakeCooldownSeconds: Int64 { processor.cooldownSeconds }

    // MARK: Submitting transactions

    /// Checks, applies and logs one signed transaction; the core every other call goes through.
    ///
    /// Consensus time is `max(clock, last + 1 ns)`, so timestamps strictly increase
    /// across processes sharing the file.
    @discardableResult
    public func submit(_ transaction: SignedTransaction) async throws -> TransactionReceipt {
        let processor = self.processor
        let clock = configuration.clock
        let bytes = transaction.transactionBytes()
        return try await run { db in
            var receipt: TransactionReceipt?
            try db.inTransaction(.immediate) {
                let store = LedgerStore(db: db)
                var consensus = clock()
                if let last = try store.lastConsensus(), consensus <= last {
                    consensus = last.adding(nanoseconds: 1)
                }
                let seq = try store.nextLogSeq()
                switch try processor.apply(transaction, logSeq: seq, consensus: consensus, store: store) {
                case .applied(let r):
                    try store.appendLog(seq: seq, id: r.transactionID, consensus: consensus, bytes: bytes)
                    receipt = r
                    return .commit
                case .unchanged(let r):
                    receipt = r
                    return .rollback
                }
            }
            return receipt!
        }
    }

    /// Builds, signs (by `payer` and `extraSigners`) and submits a transaction.
    @discardableResult
    public func execute(_ data: TransactionBody.Data, payer: LedgerOperator, memo: String = "",
                        extraSigners: [Ed25519PrivateKey] = []) async throws -> TransactionReceipt {
        try await submit(sign(body(data, payer: payer.account, validStart: nextValidStart(), memo: memo),
                              with: [payer.key] + extraSigners))
    }

    /// A valid start for a new transaction id: the clock, but always after the
    /// last one this instance issued, with `count` consecutive nanoseconds reserved
    /// (for the chunks of one message).
    func nextValidStart(reserving count: Int = 1) -> ConsensusTimestamp {
        let now = configuration.clock()
        return lastValidStart.withLock { last in
            let start = now > last ? now : last.adding(nanoseconds: 1)
            last = start.adding(nanoseconds: Int64(max(count, 1) - 1))
            return start
        }
    }

    func body(_ data: TransactionBody.Data, payer: AccountID, validStart: ConsensusTimestamp, memo: String = "") -> TransactionBody {
        TransactionBody(transactionID: TransactionID(payer: payer, validStart: validStart),
                        nodeAccountID: configuration.nodeAccountID, transactionFee: 100_000_000,
                        validDurationSeconds: 120, memo: memo, data: data)
    }

    func sign(_ body: TransactionBody, with keys: [Ed25519PrivateKey]) -> SignedTransaction {
        var tx = SignedTransaction(body: body)
        for k in keys { tx.sign(with: k) }
        return tx
    }

    /// Runs `work` on the writer connection, mapping storage errors to `LedgerError`.
    func run<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.writeWithoutTransaction(work)
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError(.storage, "the ledger file \(path) could not be written; another process may hold it too long, or the disk is full.", cause: error)
        }
    }

    /// Runs `work` on a reader connection (a consistent snapshot).
    func read<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(work)
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError(.storage, "the ledger file \(path) could not be read.", cause: error)
        }
    }
}

extension LocalLedger {
    /// Runs raw SQL on the file outside the transaction rules — for tests that
    /// simulate corruption and for repair tools, never for normal use.
    func executeRawSQLForTesting(_ sql: String) async throws {
        try await run { db in try db.execute(sql: sql) }
    }
}

extension LocalLedger {
    /// The raw `Transaction` bytes of every log entry, in order — for tests and tools.
    func logEntriesForTesting() async throws -> [[UInt8]] {
        try await read { db in try Data.fetchAll(try db.cachedStatement(sql: "SELECT tx_bytes FROM tx_log ORDER BY seq")).map { Array($0) } }
    }
}
