internal import GRDB
internal import Foundation

/// A row of `schedules`: a scheduled transfer waiting for signatures, or executed.
struct ScheduleRow {
    var id: TransactionBody.ScheduleID
    var schedule: TransactionBody.ScheduleCreate
    /// The account that pays for the scheduled transaction (its key must sign).
    var payer: AccountID
    /// The `scheduleCreate` transaction's id; the scheduled one runs under it with `scheduled` set.
    var creatorTransactionID: TransactionID
    /// When the scheduled transfer ran, or nil while it waits.
    var executedAt: ConsensusTimestamp?

    var scheduledTransactionID: TransactionID {
        TransactionID(payer: creatorTransactionID.payer, validStart: creatorTransactionID.validStart, scheduled: true)
    }
}

extension LedgerStore {
    /// The schedule whose identity bytes (body, memo, admin key — all but the payer) are `identity`.
    func schedule(identity: [UInt8]) throws -> ScheduleRow? {
        try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM schedules WHERE identity = ?"), arguments: [Data(identity)]).map(Self.scheduleRow)
    }

    func schedule(_ id: TransactionBody.ScheduleID) throws -> ScheduleRow? {
        guard id.shard == 0, id.realm == 0 else { return nil }
        return try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM schedules WHERE num = ?"), arguments: [id.num]).map(Self.scheduleRow)
    }

    func insertSchedule(_ schedule: TransactionBody.ScheduleCreate, identity: [UInt8], payer: AccountID,
                        creator: TransactionID) throws -> TransactionBody.ScheduleID {
        let num = try nextEntityNumber()
        var body = ProtobufWriter()
        TransactionBody.encodeScheduleCreate(schedule, into: &body)
        var tx = ProtobufWriter()
        creator.encode(into: &tx)
        try db.run(sql: "INSERT INTO schedules (num, identity, body, payer, creator_tx) VALUES (?, ?, ?, ?, ?)",
                       arguments: [num, Data(identity), Data(body.bytes), payer.num, Data(tx.bytes)])
        return TransactionBody.ScheduleID(num: num)
    }

    func markExecuted(_ id: TransactionBody.ScheduleID, at time: ConsensusTimestamp) throws {
        try db.run(sql: "UPDATE schedules SET executed_seconds = ?, executed_nanos = ? WHERE num = ?",
                       arguments: [time.seconds, time.nanos, id.num])
    }

    /// Records that `keys` signed the schedule; returns every key that has signed it so far.
    func addScheduleSignatures(_ id: TransactionBody.ScheduleID, keys: Set<[UInt8]>) throws -> Set<[UInt8]> {
        for key in keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            try db.run(sql: "INSERT OR IGNORE INTO schedule_signatures (schedule, key) VALUES (?, ?)", arguments: [id.num, Data(key)])
        }
        return Set(try Data.fetchAll(try db.cachedStatement(sql: "SELECT key FROM schedule_signatures WHERE schedule = ?"), arguments: [id.num]).map { Array($0) })
    }

    private static func scheduleRow(_ row: Row) throws -> ScheduleRow {
        let body = Array(row["body"] as Data)
        let seconds: Int64? = row["executed_seconds"]
        let nanos: Int32? = row["executed_nanos"]
        return ScheduleRow(
            id: TransactionBody.ScheduleID(num: row["num"]),
            schedule: try TransactionBody.decodeScheduleCreate(body[...]),
            payer: AccountID(num: row["payer"]),
            creatorTransactionID: try TransactionID.decode(ArraySlice(row["creator_tx"] as Data)),
            executedAt: seconds.map { ConsensusTimestamp(seconds: $0, nanos: nanos ?? 0) })
    }
}
