/// Scheduled transfers, as Hedera's schedule service runs them.
///
/// `scheduleCreate` stores a transfer with the signatures its transaction
/// carries; `scheduleSign` adds more. When the keys the transfer needs (every
/// debited account's key and the scheduled payer's) are satisfied, the transfer
/// runs at that consensus time under the creating transaction's id with
/// `scheduled` set. A schedule identical to an existing one (same transfers,
/// memo and admin key) is not created again: the receipt names the existing one.
///
/// One difference from Hedera: if the transfer fails when it runs (a balance too
/// small), Hedera records a failed scheduled transaction while the triggering
/// one succeeds; here the triggering transaction fails and changes nothing.
extension TransactionProcessor {
    func createSchedule(_ schedule: TransactionBody.ScheduleCreate, tx: SignedTransaction, id: TransactionID,
                        consensus: ConsensusTimestamp, receipt: TransactionReceipt, store: LedgerStore) throws -> Outcome {
        guard !schedule.transfers.isEmpty else {
            throw LedgerError(.invalidArgument, "a schedule needs a cryptoTransfer with at least one leg.")
        }
        guard schedule.memo.utf8.count <= 100 else {
            throw LedgerError(.invalidArgument, "a schedule memo is at most 100 UTF-8 bytes, got \(schedule.memo.utf8.count).")
        }
        let identity = Self.identity(of: schedule)
        if let existing = try store.schedule(identity: identity) {
            return .unchanged(with(receipt) {
                $0.scheduleID = existing.id
                $0.scheduledTransactionID = existing.scheduledTransactionID
                $0.isIdempotentReplay = true
            })
        }
        let payer = schedule.payer ?? id.payer
        _ = try store.requireAccountKey(payer, role: "scheduled payer")
        let scheduleID = try store.insertSchedule(schedule, identity: identity, payer: payer, creator: id)
        let row = ScheduleRow(id: scheduleID, schedule: schedule, payer: payer, creatorTransactionID: id)
        let executed = try collectSignatures(tx, for: row, consensus: consensus, store: store)
        return .applied(with(receipt) {
            $0.scheduleID = scheduleID
            $0.scheduledTransactionID = row.scheduledTransactionID
            $0.scheduleExecuted = executed
        })
    }

    func signSchedule(_ scheduleID: TransactionBody.ScheduleID, tx: SignedTransaction, consensus: ConsensusTimestamp,
                      receipt: TransactionReceipt, store: LedgerStore) throws -> Outcome {
        guard let row = try store.schedule(scheduleID) else {
            throw LedgerError(.notFound, "schedule \(scheduleID) does not exist; create it with scheduleCreate first.")
        }
        guard row.executedAt == nil else {
            throw LedgerError(.scheduleExecuted, "schedule \(scheduleID) already executed; nothing is left to sign.")
        }
        let executed = try collectSignatures(tx, for: row, consensus: consensus, store: store)
        return .applied(with(receipt) {
            $0.scheduleID = scheduleID
            $0.scheduledTransactionID = row.scheduledTransactionID
            $0.scheduleExecuted = executed
        })
    }

    /// Adds the transaction's signatures by keys the schedule needs; runs the transfer once they suffice.
    private func collectSignatures(_ tx: SignedTransaction, for row: ScheduleRow, consensus: ConsensusTimestamp,
                                   store: LedgerStore) throws -> Bool {
        var required = [try store.requireAccountKey(row.payer, role: "scheduled payer")]
        for t in row.schedule.transfers where t.amount < 0 {
            required.append(try store.requireAccountKey(t.account, role: "debited"))
        }
        let fresh = try tx.verifiedSigners(among: required.flatMap(\.ed25519Leaves))
        let signers = try store.addScheduleSignatures(row.id, keys: fresh)
        guard required.allSatisfy({ $0.isSatisfied(by: signers) }) else { return false }
        try applyTransfers(row.schedule.transfers, store: store)
        try store.markExecuted(row.id, at: consensus)
        return true
    }

    /// What makes two schedules identical on Hedera: every field but the scheduled payer.
    static func identity(of schedule: TransactionBody.ScheduleCreate) -> [UInt8] {
        var s = schedule
        s.payer = nil
        var w = ProtobufWriter()
        TransactionBody.encodeScheduleCreate(s, into: &w)
        return w.bytes
    }
}
