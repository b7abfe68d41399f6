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

    /// `event` for the audit topic of `spec`, to queue in the transaction of
    /// the state change it records (then call ``sendAudit()``).
    func auditEvent(_ spec: JobSpec, _ event: String, _ fields: [String: AuditValue]) throws -> RequesterStore.AuditEvent {
        RequesterStore.AuditEvent(topic: spec.auditTopic, message: try AuditLog.message(event, fields))
    }

    /// Starts the sender unless it is running (the maintenance loop calls this too, to retry after a failure).
    func sendAudit() {
        guard auditSender == nil, !stopped else { return }
        auditSender = Task { [weak self] in await self?.sendPendingAudit() }
    }

    /// Sends queued events oldest first until none is left or the ledger
    /// fails (the next ``sendAudit()`` retries). What the ledger took is
    /// recorded once per batch: after a crash, the events of a topic the
    /// ledger took but the outbox did not hear of are found on the ledger
    /// before anything of that topic is sent again.
    func sendPendingAudit() async {
        defer { auditSender = nil }
        // Events come in bursts (a round's leases, then its results): waiting a moment lets one
        // message, one ledger transaction, carry several. bench/node_rounds.py --rounds 30: 268-281
        // messages without the wait, 146-157 with 20 ms, and 10% less requester CPU per round.
        try? await Task.sleep(for: linger)
        for _ in 0..<10_000 where !stopped && !Task.isCancelled {
            guard let batch = try? store.pendingAudit(limit: Self.auditBatch), !batch.isEmpty else { return }
            let unchecked = Set(batch.map(\.topic)).subtracting(auditTopicsChecked)
            if !unchecked.isEmpty {
                do {
                    for topic in unchecked.sorted() {
                        try store.auditSent(try await takenBeforeRestart(batch.filter { $0.topic == topic }, topic: topic))
                        auditTopicsChecked.insert(topic)
                    }
                } catch {
                    logger.warning("cannot compare the audit outbox with the ledger yet: \(error); will retry")
                    return
                }
                continue
            }
            var sent: [RequesterStore.SentAudit] = []
            var failure: (any Error)?
            // Consecutive events of one topic share a message (AuditLog.pack): one ledger transaction for several.
            var messages: [[RequesterStore.PendingAudit]] = []
            for event in batch {
                if let last = messages.last?.last, last.topic == event.topic { messages[messages.count - 1].append(event) } else { messages.append([event]) }
            }
            send: for run in messages {
                for range in AuditLog.pack(run.map(\.message)) {
                    if stopped || Task.isCancelled { break send }
                    let events = run[range]
                    let topic = events.first!.topic
                    do {
                        let receipts = try await ledger.submitMessage(Array(AuditLog.join(events.map(\.message))),
                                                                      to: try TopicID(parsing: topic), payer: account)
                        sent += events.map { RequesterStore.SentAudit(id: $0.id, topic: topic, sequence: receipts.last?.topicSequenceNumber) }
                    } catch {
                        failure = error
                        logger.warning("audit events not on the ledger yet: \(error); will retry", metadata: ["topic": "\(topic)"])
                        break send
                    }
                }
            }
            do { try store.auditSent(sent) } catch {
                // Nothing may be sent twice: look at the ledger again before the next send on these topics.
                auditTopicsChecked.subtract(sent.map(\.topic))
                logger.warning("could not record the audit events the ledger took: \(error); will check the ledger")
                return
            }
            if failure != nil { return }
        }
    }

    /// Events the sender takes per pass, and the most that can be on the ledger unrecorded after a crash.
    static let auditBatch = 64

    /// The leading `waiting` events of `topic` (oldest first) that the ledger
    /// already holds — taken just before a crash kept the outbox from hearing
    /// so — with their sequence numbers. A message may carry several events
    /// (``AuditLog/pack(_:)``); they are matched line by line.
    func takenBeforeRestart(_ waiting: [RequesterStore.PendingAudit], topic: String) async throws -> [RequesterStore.SentAudit] {
        guard let first = waiting.first else { return [] }
        let known = try store.lastAuditSequence(topic: topic) ?? 0
        let later = try await ledger.messages(topic: try TopicID(parsing: topic), from: known + 1, limit: 1000)
        guard let start = later.firstIndex(where: { AuditLog.events(in: $0.contents).first == first.message }) else { return [] }
        var taken: [RequesterStore.SentAudit] = []
        var next = waiting[...]
        for message in later[start...] {
            let events = AuditLog.events(in: message.contents)
            guard !events.isEmpty, next.count >= events.count, zip(events, next).allSatisfy({ $0 == $1.message }) else { break }
            taken += next.prefix(events.count).map { RequesterStore.SentAudit(id: $0.id, topic: topic, sequence: message.sequenceNumber) }
            next = next.dropFirst(events.count)
        }
        return taken
    }

    /// Waits until every queued event is on the ledger (bounded: `attempts` × 50 ms).
    func flushAudit(attempts: Int = 600) async throws {
        for _ in 0..<attempts {
            if try store.pendingAudit(limit: 1).isEmpty { return }
            if stopped { throw NodeError(.storage, "the requester is stopping with audit events still waiting; they go out after the restart") }
            sendAudit()
            try await Task.sleep(for: .milliseconds(50))
        }
        throw NodeError(.storage, "audit events are still waiting for the ledger after \(attempts * 50 / 1000) s; is the ledger reachable?")
    }
}

extension Requester {
    /// Sets ``linger`` (tests: a wait long enough to be seen).
    func setLinger(_ duration: Duration) {
        linger = duration
    }
}
