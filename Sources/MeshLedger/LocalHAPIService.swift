public import GRPCCore
internal import Synchronization

/// A HAPI node in process: the gRPC methods `HederaLedger` calls (topics,
/// accounts, transfers, schedules, receipts), answered by a `LocalLedger`. Used to test the Hedera client end to end offline, and as a
/// development stand-in for a network node.
///
/// ```swift
/// let transport = InProcessTransport()
/// try await withGRPCServer(transport: transport.server, services: [LocalHAPIService(ledger: local)]) { _ in … }
/// ```
public final class LocalHAPIService: RegistrableRPCService, Sendable {
    let ledger: LocalLedger
    private let receipts = Mutex<[TransactionID: HAPIReceiptCodec.Receipt]>([:])
    private let busyAnswers: Mutex<Int>

    /// Serves `ledger`; the first `busyAnswers` submissions are answered BUSY (to exercise retries).
    public init(ledger: LocalLedger, busyAnswers: Int = 0) {
        self.ledger = ledger
        self.busyAnswers = Mutex(busyAnswers)
    }

    /// Registers the HAPI methods.
    public func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        for method in [HAPIMethod.createTopic, HAPIMethod.submitMessage, HAPIMethod.createAccount, HAPIMethod.cryptoTransfer,
                       HAPIMethod.createSchedule, HAPIMethod.signSchedule] {
            router.registerHandler(forMethod: method, deserializer: HAPIBytesCoder(), serializer: HAPIBytesCoder()) { request, _ in
                let bytes = try await Self.single(request)
                return StreamingServerResponse(single: ServerResponse(message: await self.handleTransaction(bytes, method: method)))
            }
        }
        router.registerHandler(forMethod: HAPIMethod.getTransactionReceipts, deserializer: HAPIBytesCoder(),
                               serializer: HAPIBytesCoder()) { request, _ in
            let bytes = try await Self.single(request)
            return StreamingServerResponse(single: ServerResponse(message: self.handleReceiptQuery(bytes)))
        }
    }

    private static func single(_ request: StreamingServerRequest<[UInt8]>) async throws -> [UInt8] {
        var it = request.messages.makeAsyncIterator()
        guard let first = try await it.next() else { throw RPCError(code: .invalidArgument, message: "empty request") }
        return first
    }

    /// Precheck and apply one `Transaction`; answers a `TransactionResponse`.
    func handleTransaction(_ bytes: [UInt8], method: MethodDescriptor) async -> [UInt8] {
        let busy = busyAnswers.withLock { n -> Bool in
            guard n > 0 else { return false }
            n -= 1
            return true
        }
        if busy { return HAPIReceiptCodec.encodeTransactionResponse(.busy) }
        let tx: SignedTransaction
        let body: TransactionBody
        do {
            tx = try SignedTransaction(transactionBytes: bytes)
            body = try tx.body()
            guard try HAPIMethod.method(for: body.data) == method else {
                return HAPIReceiptCodec.encodeTransactionResponse(.invalidTransaction)
            }
        } catch {
            return HAPIReceiptCodec.encodeTransactionResponse(.invalidTransaction)
        }
        do {
            let r = try await ledger.submit(tx)
            var receipt = HAPIReceiptCodec.Receipt(status: .success, accountID: r.accountID, topicID: r.topicID)
            if let seq = r.topicSequenceNumber, let hash = r.topicRunningHash {
                receipt.topicSequenceNumber = UInt64(seq)
                receipt.topicRunningHash = hash
                receipt.topicRunningHashVersion = UInt64(HCSRunningHash.version)
            }
            receipt.scheduleID = r.scheduleID
            receipt.scheduledTransactionID = r.scheduledTransactionID
            if r.scheduleID != nil, r.isIdempotentReplay { receipt.status = .identicalScheduleAlreadyCreated }
            receipts.withLock { receipts in
                receipts[body.transactionID] = receipt
                // The scheduled transaction has a receipt of its own once it ran.
                if r.scheduleExecuted, let scheduled = r.scheduledTransactionID {
                    receipts[scheduled] = HAPIReceiptCodec.Receipt(status: .success)
                }
            }
            return HAPIReceiptCodec.encodeTransactionResponse(.ok)
        } catch let error as LedgerError {
            // Rule failures reach consensus on Hedera and show in the receipt; signature and
            // format problems fail precheck.
            switch error.code {
            case .malformed, .missingSignature, .invalidSignature, .duplicateTransaction, .transactionExpired:
                return HAPIReceiptCodec.encodeTransactionResponse(HAPIResponseCode(error))
            default:
                var status = HAPIResponseCode(error)
                if case .scheduleSign = body.data, error.code == .notFound { status = .invalidScheduleID }
                receipts.withLock { $0[body.transactionID] = HAPIReceiptCodec.Receipt(status: status) }
                return HAPIReceiptCodec.encodeTransactionResponse(.ok)
            }
        } catch {
            return HAPIReceiptCodec.encodeTransactionResponse(.invalidTransaction)
        }
    }

    /// Answers a receipt query.
    func handleReceiptQuery(_ bytes: [UInt8]) -> [UInt8] {
        guard let id = try? HAPIReceiptCodec.decodeReceiptQuery(bytes) else {
            return HAPIReceiptCodec.encodeReceiptResponse(precheck: .invalidTransaction, receipt: nil)
        }
        guard let receipt = receipts.withLock({ $0[id] }) else {
            return HAPIReceiptCodec.encodeReceiptResponse(precheck: .receiptNotFound, receipt: nil)
        }
        return HAPIReceiptCodec.encodeReceiptResponse(precheck: .ok, receipt: receipt)
    }
}
