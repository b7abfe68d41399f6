/// Protobuf codec for the HAPI messages around a transaction: the node's
/// `TransactionResponse` (precheck), and the `getTransactionReceipts` query
/// (`Query { transactionGetReceipt = 14 }`) and its `Response`.
enum HAPIReceiptCodec {
    /// What a receipt query returns.
    struct Receipt: Equatable, Sendable {
        var status: HAPIResponseCode
        var accountID: AccountID?
        var topicID: TopicID?
        var topicSequenceNumber: UInt64 = 0
        var topicRunningHash: [UInt8] = []
        var topicRunningHashVersion: UInt64 = 0
        var scheduleID: TransactionBody.ScheduleID?
        var scheduledTransactionID: TransactionID?
    }

    // MARK: TransactionResponse { nodeTransactionPrecheckCode = 1; cost = 2 }

    static func encodeTransactionResponse(_ code: HAPIResponseCode) -> [UInt8] {
        var w = ProtobufWriter()
        w.int32(1, code.rawValue)
        return w.bytes
    }

    static func decodeTransactionResponse(_ bytes: [UInt8]) throws(LedgerError) -> HAPIResponseCode {
        var r = ProtobufReader(bytes)
        var code = HAPIResponseCode.ok
        while let f = try r.next() { if f.number == 1 { code = HAPIResponseCode(rawValue: try f.int32()) } }
        return code
    }

    // MARK: Query { transactionGetReceipt = 14 { header = 1; transactionID = 2 } }

    static func encodeReceiptQuery(_ id: TransactionID) -> [UInt8] {
        var w = ProtobufWriter()
        w.message(14) { q in
            q.message(1) { _ in }  // QueryHeader: receipts are free, no payment
            q.message(2) { id.encode(into: &$0) }
        }
        return w.bytes
    }

    static func decodeReceiptQuery(_ bytes: [UInt8]) throws(LedgerError) -> TransactionID {
        var r = ProtobufReader(bytes)
        while let f = try r.next() {
            guard f.number == 14 else { continue }
            var q = ProtobufReader(try f.slice())
            while let g = try q.next() {
                if g.number == 2 { return try TransactionID.decode(try g.slice()) }
            }
        }
        throw LedgerError(.malformed, "the query is not a transactionGetReceipt query with a transactionID.")
    }

    // MARK: Response { transactionGetReceipt = 14 { header = 1 { precheck = 1 }; receipt = 2 } }

    static func encodeReceiptResponse(precheck: HAPIResponseCode, receipt: Receipt?) -> [UInt8] {
        var w = ProtobufWriter()
        w.message(14) { resp in
            resp.message(1) { $0.int32(1, precheck.rawValue) }
            if let receipt {
                resp.message(2) { m in
                    m.int32(1, receipt.status.rawValue)
                    if let a = receipt.accountID { m.message(2) { a.encode(into: &$0) } }
                    if let t = receipt.topicID { m.message(6) { t.encode(into: &$0) } }
                    m.uint64(7, receipt.topicSequenceNumber)
                    m.bytes(8, receipt.topicRunningHash)
                    m.uint64(9, receipt.topicRunningHashVersion)
                    if let s = receipt.scheduleID { m.message(12) { $0.int64(1, s.shard); $0.int64(2, s.realm); $0.int64(3, s.num) } }
                    if let t = receipt.scheduledTransactionID { m.message(13) { t.encode(into: &$0) } }
                }
            }
        }
        return w.bytes
    }

    static func decodeReceiptResponse(_ bytes: [UInt8]) throws(LedgerError) -> (precheck: HAPIResponseCode, receipt: Receipt?) {
        var r = ProtobufReader(bytes)
        var precheck = HAPIResponseCode.ok
        var receipt: Receipt?
        while let f = try r.next() {
            guard f.number == 14 else { continue }
            var resp = ProtobufReader(try f.slice())
            while let g = try resp.next() {
                switch g.number {
                case 1:
                    var h = ProtobufReader(try g.slice())
                    while let x = try h.next() { if x.number == 1 { precheck = HAPIResponseCode(rawValue: try x.int32()) } }
                case 2:
                    var m = ProtobufReader(try g.slice())
                    var rec = Receipt(status: .ok)
                    while let x = try m.next() {
                        switch x.number {
                        case 1: rec.status = HAPIResponseCode(rawValue: try x.int32())
                        case 2: rec.accountID = try AccountID.decode(try x.slice())
                        case 6: rec.topicID = try TopicID.decode(try x.slice())
                        case 7: rec.topicSequenceNumber = try x.uint64()
                        case 8: rec.topicRunningHash = try x.bytes()
                        case 9: rec.topicRunningHashVersion = try x.uint64()
                        case 12:
                            let (a, b, c) = try decodeTriple(try x.slice())
                            rec.scheduleID = TransactionBody.ScheduleID(shard: a, realm: b, num: c)
                        case 13: rec.scheduledTransactionID = try TransactionID.decode(try x.slice())
                        default: break
                        }
                    }
                    receipt = rec
                default: break
                }
            }
        }
        return (precheck, receipt)
    }
}

extension HAPIResponseCode {
    /// The HAPI code a `LedgerError` corresponds to, as a node would report it.
    init(_ error: LedgerError) {
        switch error.code {
        case .malformed: self = .invalidTransaction
        case .missingSignature, .invalidSignature, .unauthorized: self = .invalidSignature
        case .insufficientBalance: self = .insufficientAccountBalance
        case .duplicateTransaction: self = .duplicateTransaction
        case .transactionExpired: self = .transactionExpired
        case .notFound: self = .invalidTopicID
        case .scheduleExecuted: self = .scheduleAlreadyExecuted
        default: self = .invalidTransaction
        }
    }
}
