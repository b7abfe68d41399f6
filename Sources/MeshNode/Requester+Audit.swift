import Foundation
import Logging
import MeshLedger

/// The job's audit events go through an outbox in node.sqlite: recording one
/// is a local write, and a single sender hands them to the ledger in order
/// behind the requester's back — so a trainer's lease or receipt answer never
/// waits on a ledger transaction, and an event recorded before a crash is sent
/// after the restart. A job is marked done only once its outbox is empty.
extension Requester {
    /// Queues `event` for the audit topic of `spec` and wakes the sender.
    func audit(_ spec: JobSpec, _ event: String, _ fields: [String: AuditValue]) throws {
        try store.enqueueAudit(topic: spec.auditTopic, message: try AuditLog.message(event, fields))
        sendAudit()
    }

    /// Starts the sender unless it is running (the maintenance loop calls this too, to retry after a failure).
    func sendAudit() {
        guard auditSender == nil else { return }
        auditSender = Task { [weak self] in await self?.sendPendingAudit() }
    }

    /// Sends queued events oldest first until none is left or the ledger fails (the next ``sendAudit()`` retries).
    func sendPendingAudit() async {
        defer { auditSender = nil }
        for _ in 0..<10_000 {
            guard let batch = try? store.pendingAudit(limit: 64), !batch.isEmpty else { return }
            for event in batch {
                do {
                    let topic = try TopicID(parsing: event.topic)
                    if !auditTopicsChecked.contains(event.topic) {
                        if let sequence = try await sequenceBeforeRestart(of: event, on: topic) {
                            try store.auditSent(event.id, topic: event.topic, sequence: sequence)
                            auditTopicsChecked.insert(event.topic)
                            continue
                        }
                        auditTopicsChecked.insert(event.topic)
                    }
                    let receipts = try await ledger.submitMessage(Array(event.message), to: topic, payer: account)
                    try store.auditSent(event.id, topic: event.topic, sequence: receipts.last?.topicSequenceNumber)
                } catch {
                    logger.warning("audit event not on the ledger yet: \(error); will retry", metadata: ["topic": "\(event.topic)"])
                    return
                }
            }
        }
    }

    /// The sequence number `event` already has on its topic, if the ledger
    /// took it just before a crash kept the outbox from hearing so (the only
    /// event that can be in that state is a topic's first waiting one).
    func sequenceBeforeRestart(of event: RequesterStore.PendingAudit, on topic: TopicID) async throws -> Int64? {
        let known = try store.lastAuditSequence(topic: event.topic) ?? 0
        let later = try await ledger.messages(topic: topic, from: known + 1, limit: 1000)
        return later.first { $0.contents == Array(event.message) }?.sequenceNumber
    }

    /// Waits until every queued event is on the ledger (bounded: `attempts` × 50 ms).
    func flushAudit(attempts: Int = 600) async throws {
        for _ in 0..<attempts {
            if try store.pendingAudit(limit: 1).isEmpty { return }
            sendAudit()
            try await Task.sleep(for: .milliseconds(50))
        }
        throw NodeError(.storage, "audit events are still waiting for the ledger after \(attempts * 50 / 1000) s; is the ledger reachable?")
    }
}
