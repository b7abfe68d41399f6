import Testing
@testable import MeshLedger

/// Mutated and random bytes through every decoder of bytes from the network or
/// disk: each must either decode or throw `LedgerError` — never trap or hang.
/// (A bounded, seeded stand-in for a libFuzzer run.)
struct DecoderRobustnessTests {
    /// SplitMix64: deterministic, so a failure reproduces.
    struct SeededRandom: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func seeds() throws -> [[UInt8]] {
        var golden = SignedTransaction(body: HAPICodecTests.goldenBodyValue())
        golden.sign(with: try Ed25519PrivateKey(hex: Fixture.rfc8032Secret))
        var all = [golden.transactionBytes(), golden.bodyBytes]
        for data in HAPICodecTests.bodies {
            let body = TransactionBody(transactionID: TransactionID(payer: AccountID(num: 1001), validStart: .init(seconds: 9)), data: data)
            all.append(body.encoded())
        }
        all.append(HAPIReceiptCodec.encodeReceiptResponse(precheck: .ok, receipt: .init(status: .success, topicID: TopicID(num: 5),
                                                                                              topicSequenceNumber: 3, topicRunningHash: [1, 2])))
        return all
    }

    static func exercise(_ bytes: [UInt8]) {
        if let tx = try? SignedTransaction(transactionBytes: bytes) {
            _ = try? tx.body()
            _ = try? tx.verifiedSigners(among: [Array(repeating: 1, count: 32)])
        }
        _ = try? SignedTransaction(signedTransactionBytes: bytes)
        _ = try? TransactionBody(decoding: bytes)
        _ = try? HAPIReceiptCodec.decodeReceiptResponse(bytes)
        _ = try? HAPIReceiptCodec.decodeReceiptQuery(bytes)
        _ = try? HAPIReceiptCodec.decodeTransactionResponse(bytes)
        _ = try? MirrorNodeTopicPage(json: bytes)
    }

    @Test func mutatedTransactionsNeverTrap() throws {
        var rng = SeededRandom(state: 0x6D65_7368_666C)
        let seeds = try Self.seeds()
        for i in 0..<20_000 {
            var bytes = seeds[i % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                guard !bytes.isEmpty else { break }
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: at)
                default: bytes = Array(bytes[..<at])
                }
            }
            Self.exercise(bytes)
        }
    }

    @Test func randomBytesNeverTrap() {
        var rng = SeededRandom(state: 42)
        for _ in 0..<5_000 {
            let bytes = (0..<Int.random(in: 0...96, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            Self.exercise(bytes)
        }
    }

    @Test func deeplyNestedKeysAreRefused() {
        // Key { keyList { keys { keyList { … } } } } nested 20 deep.
        var inner: [UInt8] = [0x12, 0x20] + [UInt8](repeating: 7, count: 32)  // ed25519
        for _ in 0..<20 {
            let list: [UInt8] = [0x0A, UInt8(inner.count)] + inner   // KeyList.keys
            inner = [0x32, UInt8(list.count)] + list                  // Key.keyList
            if inner.count > 120 { break }
        }
        #expect(throws: LedgerError.self) { _ = try HAPIKey.decode(ArraySlice(inner)) }
    }
}
