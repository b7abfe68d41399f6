/// An error of the node layer, with a message that says what to do.
public struct NodeError: Error, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// A signature is missing, forged or by the wrong peer.
        case badSignature
        /// Bytes that do not decode as the expected message.
        case malformed
        /// A request the protocol state does not allow (a receipt for another trainer's task, a replay, …).
        case refused
        /// A result that fails verification.
        case rejected
        /// Bad configuration or command-line input.
        case invalidInput
        /// The node's state on disk is unreadable.
        case storage
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
