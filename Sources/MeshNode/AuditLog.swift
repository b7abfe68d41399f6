public import Foundation
public import MeshLedger

/// Writes a job's events to its audit topic: one sorted-key JSON object per
/// message (`{"evt":"accepted","job":…,"round":…}`), so anyone reading the
/// topic — and verifying its running hashes — sees every step of the job.
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
