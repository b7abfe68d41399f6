public import GRPCCore

/// The HAPI gRPC methods meshfl calls, and a bytes-in/bytes-out coder so the
/// messages go through meshfl's own protobuf codec instead of generated code.
public enum HAPIMethod {
    /// `/proto.ConsensusService/createTopic`.
    public static let createTopic = MethodDescriptor(fullyQualifiedService: "proto.ConsensusService", method: "createTopic")
    /// `/proto.ConsensusService/submitMessage`.
    public static let submitMessage = MethodDescriptor(fullyQualifiedService: "proto.ConsensusService", method: "submitMessage")
    /// `/proto.CryptoService/createAccount`.
    public static let createAccount = MethodDescriptor(fullyQualifiedService: "proto.CryptoService", method: "createAccount")
    /// `/proto.CryptoService/cryptoTransfer`.
    public static let cryptoTransfer = MethodDescriptor(fullyQualifiedService: "proto.CryptoService", method: "cryptoTransfer")
    /// `/proto.CryptoService/getTransactionReceipts`.
    public static let getTransactionReceipts = MethodDescriptor(fullyQualifiedService: "proto.CryptoService", method: "getTransactionReceipts")
    /// `/proto.ScheduleService/createSchedule`.
    public static let createSchedule = MethodDescriptor(fullyQualifiedService: "proto.ScheduleService", method: "createSchedule")
    /// `/proto.ScheduleService/signSchedule`.
    public static let signSchedule = MethodDescriptor(fullyQualifiedService: "proto.ScheduleService", method: "signSchedule")

    /// The method a transaction body is submitted to.
    static func method(for data: TransactionBody.Data) throws(LedgerError) -> MethodDescriptor {
        switch data {
        case .consensusCreateTopic: createTopic
        case .consensusSubmitMessage: submitMessage
        case .cryptoCreateAccount: createAccount
        case .cryptoTransfer: cryptoTransfer
        case .scheduleCreate: createSchedule
        case .scheduleSign: signSchedule
        case .meshfl, .unsupported:
            throw LedgerError(.unsupported, "this operation has no HAPI method; Hedera runs escrow as scheduled transfers, not meshfl operations.")
        }
    }
}

/// Passes raw protobuf bytes through gRPC unchanged.
struct HAPIBytesCoder: MessageSerializer, MessageDeserializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }

    func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> [UInt8] {
        bytes.withUnsafeBytes { Array($0) }
    }
}
