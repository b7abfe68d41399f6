/// Validates and orders the records of one key namespace (the first path segment, `/pk/…`, `/meshfl/…`).
public protocol RecordValidator: Sendable {
    /// Throws when `value` is not acceptable for `key`.
    func validate(key: [UInt8], value: [UInt8]) throws(KadError)
    /// The index of the best of several valid values for `key`.
    func select(key: [UInt8], values: [[UInt8]]) -> Int
}

/// Accepts any value; the first is best. For namespaces whose values carry their own integrity checks.
public struct AcceptAllValidator: RecordValidator {
    /// Creates the validator.
    public init() {}
    /// Accepts everything.
    public func validate(key: [UInt8], value: [UInt8]) throws(KadError) {}
    /// Picks the first value.
    public func select(key: [UInt8], values: [[UInt8]]) -> Int { 0 }
}
