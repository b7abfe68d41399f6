import Foundation
import MeshNode
import Testing

/// How audit events are packed into topic messages (several per HCS transaction).
@Suite struct AuditLogTests {
    static func event(_ name: String, padding: Int = 0) throws -> Data {
        try AuditLog.message(name, ["job": "job-1", "note": .string(String(repeating: "x", count: padding))])
    }

    @Test func eventsArePackedInOrderUpToOneChunk() throws {
        let events = try (0..<20).map { try Self.event("e\($0)", padding: 200) }
        let runs = AuditLog.pack(events)
        #expect(runs.count > 1 && runs.count < events.count, "several events per message, more than one message")
        #expect(runs.flatMap { Array($0) } == Array(events.indices), "every event once, in order")
        for run in runs {
            #expect(AuditLog.join(events[run]).count <= AuditLog.messageLimit)
            if let next = run.last.map({ $0 + 1 }), next < events.count {
                #expect(AuditLog.join(events[run.lowerBound...next]).count > AuditLog.messageLimit, "a run stops only when the next event does not fit")
            }
        }
    }

    @Test func anEventLongerThanAChunkGoesAlone() throws {
        let events = [try Self.event("small"), try Self.event("big", padding: 2000), try Self.event("small2")]
        #expect(AuditLog.pack(events) == [0..<1, 1..<2, 2..<3])
        #expect(AuditLog.pack([]) == [])
    }

    /// One event per line: canonical JSON escapes newlines inside strings, so splitting the message gives the events back.
    @Test func aMessageSplitsBackIntoItsEvents() throws {
        let events = [try AuditLog.message("a", ["text": "line one\nline two"]), try Self.event("b"), try Self.event("c")]
        #expect(!events[0].contains(0x0A))
        #expect(AuditLog.events(in: AuditLog.join(events)) == events)
        #expect(AuditLog.events(in: events[1]) == [events[1]], "a message of one event is that event")
        for line in AuditLog.events(in: AuditLog.join(events)) {
            #expect((try JSONSerialization.jsonObject(with: line)) is [String: Any])
        }
    }
}
