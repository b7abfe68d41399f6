public import Foundation
public import MeshLedger

/// Writes a job's events to its audit topic: each event one sorted-key JSON
/// object (`{"evt":"accepted","job":…,"round":…}`), so anyone reading the
/// topic — and verifying its running hashes — sees every step of the job.
///
/// A message carries one event or several, one per line (JSON Lines: canonical
/// JSON has no raw newline), packed up to ``messageLimit`` bytes — one HCS
/// transaction, where one per event cost a signed transaction (and on Hedera a
/// fee and a consensus round trip) for every lease, acceptance and payment.
public struct AuditLog: Sendable {
    public let ledger: any Ledger
    public let topic: TopicID
    public let payer: LedgerOperator

    public init(ledger: any Ledger, topic: TopicID, payer: LedgerOperator) {
        self.ledger = ledger
        self.topic = topic
        self.payer = payer
    }

    public func record(_ event: String, _ fields: [String: AuditValue]) async throws {
        try await ledger.submitMessage(Array(try Self.message(event, fields)), to: topic, payer: payer)
    }

    /// Bytes of one HCS chunk: a message up to this size is one transaction.
    public static let messageLimit = 1024

    /// Splits `events` (each one line of JSON, in order) into runs that go out as one message each:
    /// as many consecutive events as fit in ``messageLimit`` bytes joined by newlines; an event
    /// longer than that alone (the ledger chunks it).
    public static func pack(_ events: [Data]) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var start = 0
        var size = 0
        for (index, event) in events.enumerated() {
            if index > start, size + 1 + event.count > messageLimit {
                runs.append(start..<index)
                start = index
                size = 0
            }
            size += (index > start ? 1 : 0) + event.count
        }
        if start < events.count { runs.append(start..<events.count) }
        return runs
    }

    /// The message carrying `events` (one line each).
    public static func join(_ events: some Sequence<Data>) -> Data {
        Data(events.joined(separator: [0x0A]))
    }

    /// The events of a message from an audit topic, in order (a message of one event is that event).
    public static func events(in contents: some Collection<UInt8>) -> [Data] {
        contents.split(separator: 0x0A, omittingEmptySubsequences: true).map { Data($0) }
    }

    /// The message of one event: the fields and `"evt"`, as canonical (sorted-key) JSON.
    public static func message(_ event: String, _ fields: [String: AuditValue]) throws -> Data {
        var object = fields
        object["evt"] = .string(event)
        return try CanonicalJSON.encode(object)
    }
}

/// A JSON scalar in an audit event.
public enum AuditValue: Codable, Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let v): try container.encode(v)
        case .int(let v): try container.encode(v)
        case .double(let v): try container.encode(v)
        case .bool(let v): try container.encode(v)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let v = try? container.decode(Bool.self) { self = .bool(v) }
        else if let v = try? container.decode(Int64.self) { self = .int(v) }
        else if let v = try? container.decode(Double.self) { self = .double(v) }
        else { self = .string(try container.decode(String.self)) }
    }
}
