/// An error reading, validating or writing one of meshfl's data formats — a model spec,
/// safetensors weights, an IDX/CSV dataset or a shard file.
///
/// The message names the file (or JSON path) and says what to do; `code` is for programs.
///
/// ```swift
/// do { _ = try ModelSpec(contentsOf: url) }
/// catch let error as FormatError where error.code == .invalidSpec { print(error.message) }
/// ```
public struct FormatError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The code's name, for logs.
        public var description: String { name }

        /// A model spec that does not parse or does not describe a valid network.
        public static let invalidSpec = Code(name: "invalidSpec")
        /// Bytes that do not decode: bad magic, bad JSON, inconsistent sizes or offsets.
        public static let malformed = Code(name: "malformed")
        /// A file that ends before its header says it should.
        public static let truncated = Code(name: "truncated")
        /// A well-formed file using a feature meshfl does not read (a dtype, a version).
        public static let unsupported = Code(name: "unsupported")
        /// Weights whose names or shapes do not match the model spec.
        public static let shapeMismatch = Code(name: "shapeMismatch")
        /// Arguments that cannot be satisfied (e.g. more clients than samples).
        public static let invalidArgument = Code(name: "invalidArgument")
        /// A file could not be read or written.
        public static let io = Code(name: "io")
    }

    /// What kind of failure this is.
    public var code: Code
    /// What happened, where, and what to do about it.
    public var message: String
    /// The underlying error, if any.
    public var cause: (any Error & Sendable)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// `code: message (cause: ...)`.
    public var description: String {
        var text = "\(code): \(message)"
        if let cause { text += " (cause: \(cause))" }
        return text
    }
}
