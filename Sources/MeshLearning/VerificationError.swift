/// An error building, resuming or checking a training task: bad task settings,
/// a checkpoint that does not fit the task, malformed transcript fields.
///
/// The message says what is wrong and what to do; `code` is for programs.
public struct VerificationError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The code's name, for logs.
        public var description: String { name }

        /// Task settings that cannot be run (no data, a batch size of 0, …).
        public static let invalidTask = Code(name: "invalidTask")
        /// Bytes or text that do not decode (a digest, a checkpoint).
        public static let malformed = Code(name: "malformed")
        /// A checkpoint or weights that do not belong to the task.
        public static let mismatch = Code(name: "mismatch")
    }

    /// What kind of failure this is.
    public var code: Code
    /// What happened and what to do about it.
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
