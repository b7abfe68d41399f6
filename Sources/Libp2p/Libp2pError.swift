/// An error from the libp2p stack: a machine-readable code, a human message and an optional cause.
///
/// ```swift
/// do { _ = try PeerID(string: "nope") }
/// catch let error as Libp2pError where error.code == .invalidPeerID { print(error.message) }
/// ```
public struct Libp2pError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The code's name, for logs.
        public var description: String { name }

        /// Bytes or text that do not decode (varint, protobuf, multibase, ...).
        public static let malformed = Code(name: "malformed")
        /// A peer id that cannot be parsed or does not match its key.
        public static let invalidPeerID = Code(name: "invalidPeerID")
        /// A key of an unsupported type or with invalid bytes.
        public static let invalidKey = Code(name: "invalidKey")
        /// A multiaddr that cannot be parsed or is not dialable.
        public static let invalidMultiaddr = Code(name: "invalidMultiaddr")
        /// The remote peer broke the protocol.
        public static let protocolViolation = Code(name: "protocolViolation")
        /// No protocol both sides support.
        public static let protocolNegotiationFailed = Code(name: "protocolNegotiationFailed")
        /// The secure-channel handshake failed (bad signature, bad ciphertext, wrong peer).
        public static let handshakeFailed = Code(name: "handshakeFailed")
        /// The remote peer is not the one that was dialled.
        public static let peerIDMismatch = Code(name: "peerIDMismatch")
        /// A message or frame larger than allowed.
        public static let messageTooLarge = Code(name: "messageTooLarge")
        /// An operation did not finish in time.
        public static let timeout = Code(name: "timeout")
        /// The connection or stream is closed.
        public static let closed = Code(name: "closed")
        /// The stream was reset by either side.
        public static let reset = Code(name: "reset")
        /// A configured limit (connections, streams) was reached.
        public static let limitReached = Code(name: "limitReached")
        /// A socket-level failure (connect, bind, I/O).
        public static let transport = Code(name: "transport")
        /// A file could not be read or written.
        public static let io = Code(name: "io")
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
