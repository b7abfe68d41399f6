/// An error from the gossipsub layer: a machine-readable code, a human message and an optional cause.
///
/// ```swift
/// do { _ = try PubsubRPC(decoding: bytes) }
/// catch let error as GossipsubError where error.code == .tooLarge { print(error.message) }
/// ```
public struct GossipsubError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The code's name, for logs.
        public var description: String { name }

        /// Bytes that do not decode as a pubsub RPC.
        public static let malformed = Code(name: "malformed")
        /// An RPC or a part of it exceeds a configured limit; the peer should send less.
        public static let tooLarge = Code(name: "tooLarge")
        /// A message whose StrictSign signature is missing or does not verify.
        public static let invalidSignature = Code(name: "invalidSignature")
        /// A message lacking a field StrictSign requires (from, seqno, signature).
        public static let missingField = Code(name: "missingField")
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
