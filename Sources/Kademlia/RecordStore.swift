/// Records stored by PUT_VALUE, checked by the validator of their key's namespace.
///
/// A key must look like `/<namespace>/<rest>`; keys of namespaces without a validator are refused.
/// Storing a value for a key that already has one keeps whichever the validator's `select` prefers.
///
/// ```swift
/// var store = RecordStore(validators: ["meshfl": AcceptAllValidator()])
/// try store.put(.init(key: Array("/meshfl/x".utf8), value: [1]), now: now)
/// ```
public struct RecordStore: Sendable {
    /// Validators by namespace.
    public var validators: [String: any RecordValidator]
    /// How long a record is kept after it was stored (libp2p: 48 h).
    public let validity: Duration
    var records: [[UInt8]: (record: KadMessage.Record, expires: Duration)] = [:]

    /// Creates an empty store.
    public init(validators: [String: any RecordValidator], validity: Duration = .seconds(48 * 3600)) {
        self.validators = validators
        self.validity = validity
    }

    /// The namespace of `key`: the text between its first two slashes.
    public static func namespace(of key: [UInt8]) -> String? {
        guard key.first == UInt8(ascii: "/") else { return nil }
        let rest = key.dropFirst()
        guard let slash = rest.firstIndex(of: UInt8(ascii: "/")), slash > rest.startIndex else { return nil }
        return String(decoding: rest[..<slash], as: UTF8.self)
    }

    /// Checks `record` with its namespace's validator.
    ///
    /// - Throws: ``KadError/Code/invalidRecord``.
    public func validate(_ record: KadMessage.Record) throws(KadError) {
        guard let namespace = Self.namespace(of: record.key) else {
            throw KadError(.invalidRecord, "record key is not of the form /<namespace>/<key>")
        }
        guard let validator = validators[namespace] else {
            throw KadError(.invalidRecord, "no validator for namespace '\(namespace)'; register one in RecordStore.validators")
        }
        try validator.validate(key: record.key, value: record.value)
    }

    /// Validates and stores `record`, keeping the better of it and a stored one.
    ///
    /// - Returns: whether `record` is now the stored value.
    @discardableResult
    public mutating func put(_ record: KadMessage.Record, now: Duration) throws(KadError) -> Bool {
        try validate(record)
        if let existing = get(record.key, now: now), existing.value != record.value {
            let validator = validators[Self.namespace(of: record.key)!]!
            if validator.select(key: record.key, values: [existing.value, record.value]) == 0 { return false }
        }
        records[record.key] = (record, now + validity)
        return true
    }

    /// The unexpired record for `key`.
    public func get(_ key: [UInt8], now: Duration) -> KadMessage.Record? {
        guard let entry = records[key], entry.expires > now else { return nil }
        return entry.record
    }

    /// Drops expired records.
    public mutating func expire(now: Duration) {
        records = records.filter { $0.value.expires > now }
    }
}
