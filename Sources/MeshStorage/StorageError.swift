/// An error from MeshStorage: a broad ``Code``, a message that says what went
/// wrong and what to do about it, and the underlying cause when there is one.
///
/// ```swift
/// do { _ = try CID(parsing: "bafy…") }
/// catch let error as StorageError where error.code == .invalidCID { print(error.message) }
/// ```
public struct StorageError: Error, Sendable, CustomStringConvertible {
    /// The broad class of a ``StorageError``.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        init(_ name: String) { self.name = name }
        /// The code's name.
        public var description: String { name }

        /// A CID string or its bytes are malformed or use an unsupported codec/hash.
        public static let invalidCID = Code("invalidCID")
        /// A manifest is not valid JSON of the expected shape.
        public static let invalidManifest = Code("invalidManifest")
        /// A block's bytes do not hash to its CID.
        public static let corruptBlock = Code("corruptBlock")
        /// A block, object or key is not in the store.
        public static let notFound = Code("notFound")
        /// Storing would exceed the store's quota.
        public static let quotaExceeded = Code("quotaExceeded")
        /// A file-system call failed.
        public static let io = Code("io")
        /// An argument is out of range or malformed.
        public static let invalidArgument = Code("invalidArgument")
        /// A request signature or presigned URL is invalid, expired or for another request.
        public static let signature = Code("signature")
        /// A sealed blob could not be opened: wrong key, tampering, truncation or reordering.
        public static let sealing = Code("sealing")
        /// An HTTP peer (S3 endpoint, node server) failed or answered with an error.
        public static let http = Code("http")
    }

    /// The broad class of the error.
    public var code: Code
    /// What went wrong and what to do about it.
    public var message: String
    /// The error that caused this one, if any.
    public var cause: (any Error)?

    /// Creates an error.
    public init(code: Code, message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// `code: message (cause)`.
    public var description: String {
        if let cause { return "\(code): \(message) (\(cause))" }
        return "\(code): \(message)"
    }
}

/// An `errno` captured from a failed system call, used as a ``StorageError/cause``.
struct Errno: Error, Sendable, CustomStringConvertible {
    let call: String
    let value: Int32
    var description: String { "\(call) failed: errno \(value)" }
}
