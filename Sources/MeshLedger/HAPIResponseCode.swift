/// A HAPI `ResponseCodeEnum` value (precheck and receipt status).
///
/// Unknown codes are kept by number; the named ones are those meshfl acts on.
public struct HAPIResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The protobuf enum number.
    public var rawValue: Int32
    /// Wraps a protobuf enum number.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Precheck passed.
    public static let ok = Self(rawValue: 0)
    /// Malformed transaction.
    public static let invalidTransaction = Self(rawValue: 1)
    /// Expired before consensus.
    public static let transactionExpired = Self(rawValue: 4)
    /// A signature failed.
    public static let invalidSignature = Self(rawValue: 7)
    /// Payer balance too small for the fee.
    public static let insufficientPayerBalance = Self(rawValue: 10)
    /// The id was already used.
    public static let duplicateTransaction = Self(rawValue: 11)
    /// The node is busy; retry with backoff.
    public static let busy = Self(rawValue: 12)
    /// The receipt is not known (yet).
    public static let receiptNotFound = Self(rawValue: 18)
    /// The transaction has not reached consensus yet.
    public static let unknown = Self(rawValue: 21)
    /// Consensus reached and applied.
    public static let success = Self(rawValue: 22)
    /// A debited account lacks the balance.
    public static let insufficientAccountBalance = Self(rawValue: 28)
    /// The node's platform is not active; retry with backoff.
    public static let platformNotActive = Self(rawValue: 67)
    /// The node does not support this transaction type.
    public static let notSupported = Self(rawValue: 13)
    /// No such topic.
    public static let invalidTopicID = Self(rawValue: 150)
    /// No such schedule.
    public static let invalidScheduleID = Self(rawValue: 201)
    /// A schedule with the same body, memo and admin key exists; the receipt names it.
    public static let identicalScheduleAlreadyCreated = Self(rawValue: 210)
    /// The schedule being signed has already executed.
    public static let scheduleAlreadyExecuted = Self(rawValue: 213)

    /// Whether a client should resubmit after a backoff (BUSY, PLATFORM_NOT_ACTIVE).
    public var isRetryable: Bool { self == .busy || self == .platformNotActive }

    /// The HAPI name, or the number for codes not named here.
    public var description: String {
        switch self {
        case .ok: "OK"
        case .invalidTransaction: "INVALID_TRANSACTION"
        case .transactionExpired: "TRANSACTION_EXPIRED"
        case .invalidSignature: "INVALID_SIGNATURE"
        case .insufficientPayerBalance: "INSUFFICIENT_PAYER_BALANCE"
        case .duplicateTransaction: "DUPLICATE_TRANSACTION"
        case .busy: "BUSY"
        case .receiptNotFound: "RECEIPT_NOT_FOUND"
        case .unknown: "UNKNOWN"
        case .success: "SUCCESS"
        case .insufficientAccountBalance: "INSUFFICIENT_ACCOUNT_BALANCE"
        case .platformNotActive: "PLATFORM_NOT_ACTIVE"
        case .notSupported: "NOT_SUPPORTED"
        case .invalidTopicID: "INVALID_TOPIC_ID"
        case .invalidScheduleID: "INVALID_SCHEDULE_ID"
        case .identicalScheduleAlreadyCreated: "IDENTICAL_SCHEDULE_ALREADY_CREATED"
        case .scheduleAlreadyExecuted: "SCHEDULE_ALREADY_EXECUTED"
        default: "response code \(rawValue)"
        }
    }
}
