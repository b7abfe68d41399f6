/// An error from the Kademlia layer: a machine-readable code, a human message and an optional cause.
public struct KadError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The code's name, for logs.
        public var description: String { name }
        /// Bytes that do not decode as a kad message.
        public static let malformed = Code(name: "malformed")
        /// A message or a list in it exceeds a limit.
        public static let tooLarge = Code(name: "tooLarge")
        /// A record its namespace's validator refuses, or a key with no validator; fix the record or register one.
        public static let invalidRecord = Code(name: "invalidRecord")
        /// No peer (nor the local store) holds a valid record for the key.
        public static let notFound = Code(name: "notFound")
        /// Fewer peers than the quorum answered with a valid record; retry later or ask for a smaller quorum.
        public static let quorumNotMet = Code(name: "quorumNotMet")
    }

    /// What kind of failure this is.
    public var code: Code
    /// What happened and, where it helps, what to do about it.
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
