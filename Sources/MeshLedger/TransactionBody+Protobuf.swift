// Protobuf encoding and decoding of TransactionBody and the HAPI types it holds.
// Field numbers follow hedera-protobufs (services/transaction.proto, basic_types.proto, …).

extension TransactionBody {
    /// The protobuf bytes of this body — the bytes that are signed.
    public func encoded() -> [UInt8] {
        var w = ProtobufWriter()
        w.message(1) { transactionID.encode(into: &$0) }
        if let nodeAccountID { w.message(2) { nodeAccountID.encode(into: &$0) } }
        w.uint64(3, transactionFee)
        w.message(4) { $0.int64(1, validDurationSeconds) }
        w.string(6, memo)
        switch data {
        case .cryptoCreateAccount(let key, let initialBalance):
            w.message(11) { m in
                m.message(1) { key.encode(into: &$0) }
                m.uint64(2, initialBalance)
            }
        case .cryptoTransfer(let transfers):
            w.message(14) { m in m.message(1) { Transfer.encode(transfers, into: &$0) } }
        case .consensusCreateTopic(let t):
            w.message(24) { m in
                m.string(1, t.memo)
                if let k = t.adminKey { m.message(2) { k.encode(into: &$0) } }
                if let k = t.submitKey { m.message(3) { k.encode(into: &$0) } }
            }
        case .consensusSubmitMessage(let s):
            w.message(27) { m in
                m.message(1) { s.topic.encode(into: &$0) }
                m.bytes(2, s.message)
                if let c = s.chunkInfo {
                    m.message(3) { ci in
                        ci.message(1) { c.initialTransactionID.encode(into: &$0) }
                        ci.int32(2, c.total)
                        ci.int32(3, c.number)
                    }
                }
            }
        case .scheduleCreate(let s):
            w.message(42) { Self.encodeScheduleCreate(s, into: &$0) }
        case .scheduleSign(let id):
            w.message(44) { m in m.message(1) { $0.int64(1, id.shard); $0.int64(2, id.realm); $0.int64(3, id.num) } }
        case .meshfl(let op):
            w.message(MeshflOperation.bodyField) { op.encode(into: &$0) }
        case .unsupported:
            break
        }
        return w.bytes
    }

    /// Decodes body bytes; unknown fields are skipped, a missing transaction id throws `malformed`.
    public init(decoding bytes: some Collection<UInt8>) throws(LedgerError) {
        var r = ProtobufReader(bytes)
        var txID: TransactionID?
        var node: AccountID?
        var fee: UInt64 = 0, duration: Int64 = 0
        var memo = ""
        var data = Data.unsupported
        while let f = try r.next() {
            switch f.number {
            case 1: txID = try TransactionID.decode(try f.slice())
            case 2: node = try AccountID.decode(try f.slice())
            case 3: fee = try f.uint64()
            case 4: duration = try Self.decodeDuration(try f.slice())
            case 6: memo = try f.string()
            case 11: data = try Self.decodeCreateAccount(try f.slice())
            case 14: data = .cryptoTransfer(try Self.decodeTransferBody(try f.slice()))
            case 24: data = .consensusCreateTopic(try Self.decodeCreateTopic(try f.slice()))
            case 27: data = .consensusSubmitMessage(try Self.decodeSubmit(try f.slice()))
            case 42: data = .scheduleCreate(try Self.decodeScheduleCreate(try f.slice()))
            case 44: data = .scheduleSign(try Self.decodeScheduleSign(try f.slice()))
            case MeshflOperation.bodyField: data = .meshfl(try MeshflOperation.decode(try f.slice()))
            default: break
            }
        }
        guard let txID else {
            throw LedgerError(.malformed, "the transaction body has no transactionID (field 1); every HAPI transaction needs one.")
        }
        self.init(transactionID: txID, nodeAccountID: node, transactionFee: fee,
                  validDurationSeconds: duration, memo: memo, data: data)
    }

    static func decodeDuration(_ s: ArraySlice<UInt8>) throws(LedgerError) -> Int64 {
        var r = ProtobufReader(s)
        var seconds: Int64 = 0
        while let f = try r.next() { if f.number == 1 { seconds = try f.int64() } }
        return seconds
    }

    static func decodeCreateAccount(_ s: ArraySlice<UInt8>) throws(LedgerError) -> Data {
        var r = ProtobufReader(s)
        var key: HAPIKey?
        var initial: UInt64 = 0
        while let f = try r.next() {
            switch f.number {
            case 1: key = try HAPIKey.decode(try f.slice())
            case 2: initial = try f.uint64()
            default: break
            }
        }
        guard let key else { throw LedgerError(.malformed, "cryptoCreateAccount has no key; a new account needs one.") }
        return .cryptoCreateAccount(key: key, initialBalance: initial)
    }

    static func decodeTransferBody(_ s: ArraySlice<UInt8>) throws(LedgerError) -> [Transfer] {
        var r = ProtobufReader(s)
        var transfers: [Transfer] = []
        while let f = try r.next() { if f.number != 1 { continue }
            transfers += try Transfer.decodeList(try f.slice())
        }
        return transfers
    }

    static func decodeCreateTopic(_ s: ArraySlice<UInt8>) throws(LedgerError) -> CreateTopic {
        var r = ProtobufReader(s)
        var t = CreateTopic()
        while let f = try r.next() {
            switch f.number {
            case 1: t.memo = try f.string()
            case 2: t.adminKey = try HAPIKey.decode(try f.slice())
            case 3: t.submitKey = try HAPIKey.decode(try f.slice())
            default: break
            }
        }
        return t
    }

    static func decodeSubmit(_ s: ArraySlice<UInt8>) throws(LedgerError) -> SubmitMessage {
        var r = ProtobufReader(s)
        var topic: TopicID?
        var message: [UInt8] = []
        var chunk: ChunkInfo?
        while let f = try r.next() {
            switch f.number {
            case 1: topic = try TopicID.decode(try f.slice())
            case 2: message = try f.bytes()
            case 3:
                var c = ProtobufReader(try f.slice())
                var initial: TransactionID?
                var total: Int32 = 0, number: Int32 = 0
                while let g = try c.next() {
                    switch g.number {
                    case 1: initial = try TransactionID.decode(try g.slice())
                    case 2: total = try g.int32()
                    case 3: number = try g.int32()
                    default: break
                    }
                }
                guard let initial else { throw LedgerError(.malformed, "chunkInfo has no initialTransactionID.") }
                chunk = ChunkInfo(initialTransactionID: initial, total: total, number: number)
            default: break
            }
        }
        guard let topic else { throw LedgerError(.malformed, "consensusSubmitMessage has no topicID.") }
        return SubmitMessage(topic: topic, message: message, chunkInfo: chunk)
    }

    /// `ScheduleCreateTransactionBody` fields: the scheduled `cryptoTransfer` (SchedulableTransactionBody field 9),
    /// memo, admin key, payer.
    static func encodeScheduleCreate(_ s: ScheduleCreate, into m: inout ProtobufWriter) {
        m.message(1) { inner in inner.message(9) { t in t.message(1) { Transfer.encode(s.transfers, into: &$0) } } }
        m.string(2, s.memo)
        if let k = s.adminKey { m.message(3) { k.encode(into: &$0) } }
        if let p = s.payer { m.message(4) { p.encode(into: &$0) } }
    }

    static func decodeScheduleCreate(_ s: ArraySlice<UInt8>) throws(LedgerError) -> ScheduleCreate {
        var r = ProtobufReader(s)
        var sc = ScheduleCreate(transfers: [])
        while let f = try r.next() {
            switch f.number {
            case 1:
                var inner = ProtobufReader(try f.slice())
                while let g = try inner.next() { if g.number != 9 { continue }
                    sc.transfers += try decodeTransferBody(try g.slice())
                }
            case 2: sc.memo = try f.string()
            case 3: sc.adminKey = try HAPIKey.decode(try f.slice())
            case 4: sc.payer = try AccountID.decode(try f.slice())
            default: break
            }
        }
        return sc
    }

    static func decodeScheduleSign(_ s: ArraySlice<UInt8>) throws(LedgerError) -> ScheduleID {
        var r = ProtobufReader(s)
        var id = ScheduleID(num: 0)
        while let f = try r.next() { if f.number != 1 { continue }
            let (a, b, c) = try decodeTriple(try f.slice())
            id = ScheduleID(shard: a, realm: b, num: c)
        }
        return id
    }
}

extension TransactionBody.Transfer {
    static func encode(_ transfers: [Self], into w: inout ProtobufWriter) {
        for t in transfers {
            w.message(1) { m in
                m.message(1) { t.account.encode(into: &$0) }
                m.sint64(2, t.amount)
            }
        }
    }

    static func decodeList(_ s: ArraySlice<UInt8>) throws(LedgerError) -> [Self] {
        var r = ProtobufReader(s)
        var out: [Self] = []
        while let f = try r.next() { if f.number != 1 { continue }
            var a = ProtobufReader(try f.slice())
            var account: AccountID?
            var amount: Int64 = 0
            while let g = try a.next() {
                switch g.number {
                case 1: account = try AccountID.decode(try g.slice())
                case 2: amount = try g.sint64()
                default: break
                }
            }
            guard let account else { throw LedgerError(.malformed, "an AccountAmount has no accountID.") }
            out.append(Self(account: account, amount: amount))
        }
        return out
    }
}

/// Decodes `{int64 1, int64 2, int64 3}`, the shape of AccountID, TopicID and ScheduleID.
func decodeTriple(_ s: ArraySlice<UInt8>) throws(LedgerError) -> (Int64, Int64, Int64) {
    var r = ProtobufReader(s)
    var v: (Int64, Int64, Int64) = (0, 0, 0)
    while let f = try r.next() {
        switch f.number {
        case 1: v.0 = try f.int64()
        case 2: v.1 = try f.int64()
        case 3: v.2 = try f.int64()
        default: break
        }
    }
    return v
}

extension AccountID {
    func encode(into w: inout ProtobufWriter) {
        w.int64(1, shard); w.int64(2, realm); w.int64(3, num)
    }

    static func decode(_ s: ArraySlice<UInt8>) throws(LedgerError) -> AccountID {
        let (a, b, c) = try decodeTriple(s)
        return AccountID(shard: a, realm: b, num: c)
    }
}

extension TopicID {
    func encode(into w: inout ProtobufWriter) {
        w.int64(1, shard); w.int64(2, realm); w.int64(3, num)
    }

    static func decode(_ s: ArraySlice<UInt8>) throws(LedgerError) -> TopicID {
        let (a, b, c) = try decodeTriple(s)
        return TopicID(shard: a, realm: b, num: c)
    }
}

extension ConsensusTimestamp {
    func encode(into w: inout ProtobufWriter) {
        w.int64(1, seconds); w.int32(2, nanos)
    }

    static func decode(_ s: ArraySlice<UInt8>) throws(LedgerError) -> ConsensusTimestamp {
        var r = ProtobufReader(s)
        var seconds: Int64 = 0, nanos: Int32 = 0
        while let f = try r.next() {
            switch f.number {
            case 1: seconds = try f.int64()
            case 2: nanos = try f.int32()
            default: break
            }
        }
        guard (0..<1_000_000_000).contains(nanos) else {
            throw LedgerError(.malformed, "a Timestamp has nanos \(nanos), outside 0..<1e9.")
        }
        return ConsensusTimestamp(seconds: seconds, nanos: nanos)
    }
}

extension TransactionID {
    func encode(into w: inout ProtobufWriter) {
        w.message(1) { validStart.encode(into: &$0) }
        w.message(2) { payer.encode(into: &$0) }
        w.bool(3, scheduled)
        w.int32(4, nonce)
    }

    static func decode(_ s: ArraySlice<UInt8>) throws(LedgerError) -> TransactionID {
        var r = ProtobufReader(s)
        var start: ConsensusTimestamp?
        var payer: AccountID?
        var scheduled = false
        var nonce: Int32 = 0
        while let f = try r.next() {
            switch f.number {
            case 1: start = try ConsensusTimestamp.decode(try f.slice())
            case 2: payer = try AccountID.decode(try f.slice())
            case 3: scheduled = try f.bool()
            case 4: nonce = try f.int32()
            default: break
            }
        }
        guard let start, let payer else {
            throw LedgerError(.malformed, "a TransactionID needs transactionValidStart and accountID.")
        }
        return TransactionID(payer: payer, validStart: start, scheduled: scheduled, nonce: nonce)
    }
}

extension HAPIKey {
    /// Keys nest (threshold of lists of …); deeper than this is rejected.
    static let maxDepth = 8

    func encode(into w: inout ProtobufWriter) {
        switch self {
        case .ed25519(let k):
            w.bytes(2, k, always: true)
        case .threshold(let m, let keys):
            w.message(5) { t in
                t.uint64(1, UInt64(max(m, 0)))
                t.message(2) { l in for k in keys { l.message(1) { k.encode(into: &$0) } } }
            }
        case .keyList(let keys):
            w.message(6) { l in for k in keys { l.message(1) { k.encode(into: &$0) } } }
        }
    }

    static func decode(_ s: ArraySlice<UInt8>, depth: Int = 0) throws(LedgerError) -> HAPIKey {
        guard depth < maxDepth else { throw LedgerError(.malformed, "a Key nests deeper than \(maxDepth) levels.") }
        var r = ProtobufReader(s)
        var key: HAPIKey?
        while let f = try r.next() {
            switch f.number {
            case 2: key = .ed25519(try f.bytes())
            case 5:
                var t = ProtobufReader(try f.slice())
                var m = 0
                var keys: [HAPIKey] = []
                while let g = try t.next() {
                    switch g.number {
                    case 1: m = Int(truncatingIfNeeded: try g.uint64() & 0xFFFF_FFFF)
                    case 2: keys = try decodeList(try g.slice(), depth: depth + 1)
                    default: break
                    }
                }
                key = .threshold(m, keys)
            case 6: key = .keyList(try decodeList(try f.slice(), depth: depth + 1))
            default: break
            }
        }
        guard let key else { throw LedgerError(.malformed, "a Key holds no key type this ledger supports (ed25519, thresholdKey, keyList).") }
        return key
    }

    private static func decodeList(_ s: ArraySlice<UInt8>, depth: Int) throws(LedgerError) -> [HAPIKey] {
        var r = ProtobufReader(s)
        var keys: [HAPIKey] = []
        while let f = try r.next() { if f.number != 1 { continue }
            keys.append(try decode(try f.slice(), depth: depth + 1))
        }
        return keys
    }
}
