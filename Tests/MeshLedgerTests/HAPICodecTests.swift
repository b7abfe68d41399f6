import Testing
@testable import MeshLedger

struct HAPICodecTests {
    static let goldenBody = "0a120a0b0880e2cfaa0610959aef3a120318e907120218031880c2d72f220208783208666c2d6175646974da01290a03188d2712227b22657674223a22747261696e65725f6a6f696e6564222c227461736b223a34327d"
    /// RFC 8032 test-1 key's signature of the golden body (computed independently with Python `cryptography`).
    static let goldenSignature = "0f61470f8a34fab9b080d7b9aa8e0e12d49e5a95c5af4398e4537e78162df67be69e34daa89e195a472677591023f4914997a0e9f74b819881051a913c627407"

    static func goldenBodyValue() -> TransactionBody {
        TransactionBody(
            transactionID: TransactionID(payer: AccountID(num: 1001), validStart: ConsensusTimestamp(seconds: 1_700_000_000, nanos: 123_456_789)),
            nodeAccountID: AccountID(num: 3), transactionFee: 100_000_000, validDurationSeconds: 120, memo: "fl-audit",
            data: .consensusSubmitMessage(.init(topic: TopicID(num: 5005), message: Array(#"{"evt":"trainer_joined","task":42}"#.utf8))))
    }

    @Test func goldenBodyEncodes() {
        #expect(Fixture.hex(Self.goldenBodyValue().encoded()) == Self.goldenBody)
    }

    @Test func goldenBodyDecodes() throws {
        let body = try TransactionBody(decoding: Fixture.hex(Self.goldenBody))
        #expect(body == Self.goldenBodyValue())
    }

    @Test func goldenSignatureWithRFC8032Key() throws {
        let key = try Ed25519PrivateKey(hex: Fixture.rfc8032Secret)
        #expect(key.publicKey.description == Fixture.rfc8032Public)
        var tx = SignedTransaction(body: Self.goldenBodyValue())
        tx.sign(with: key)
        #expect(Fixture.hex(tx.signatures[0].ed25519) == Self.goldenSignature)
        let wire = tx.transactionBytes()
        let back = try SignedTransaction(transactionBytes: wire)
        #expect(back == tx)
        #expect(Fixture.hex(back.bodyBytes) == Self.goldenBody)
        #expect(try back.verifiedSigners(among: [key.publicKey.rawRepresentation]) == [key.publicKey.rawRepresentation])
    }

    @Test func tamperedBodyFailsVerification() throws {
        let key = try Ed25519PrivateKey(hex: Fixture.rfc8032Secret)
        var tx = SignedTransaction(body: Self.goldenBodyValue())
        tx.sign(with: key)
        tx.bodyBytes[tx.bodyBytes.count - 2] ^= 1
        #expect(throws: LedgerError.self) { _ = try tx.verifiedSigners(among: [key.publicKey.rawRepresentation]) }
    }

    @Test func unsignedHasNoSigners() throws {
        let tx = SignedTransaction(body: Self.goldenBodyValue())
        #expect(try tx.verifiedSigners(among: [Fixture.hex(Fixture.rfc8032Public)]).isEmpty)
    }

    static let bodies: [TransactionBody.Data] = [
        .cryptoTransfer([.init(account: AccountID(num: 2), amount: -500), .init(account: AccountID(shard: 1, realm: 2, num: 1001), amount: 500)]),
        .cryptoCreateAccount(key: .ed25519([UInt8](repeating: 9, count: 32)), initialBalance: 77),
        .consensusCreateTopic(.init(memo: "audit", adminKey: .keyList([.ed25519([UInt8](repeating: 1, count: 32))]),
                                    submitKey: .threshold(2, [.ed25519([UInt8](repeating: 2, count: 32)), .ed25519([UInt8](repeating: 3, count: 32))]))),
        .consensusSubmitMessage(.init(topic: TopicID(num: 7), message: [0, 1, 2],
                                      chunkInfo: .init(initialTransactionID: TransactionID(payer: AccountID(num: 5), validStart: .init(seconds: 9, nanos: 1)), total: 3, number: 2))),
        .scheduleCreate(.init(transfers: [.init(account: AccountID(num: 900), amount: -10), .init(account: AccountID(num: 1001), amount: 10)], memo: "task-1", payer: AccountID(num: 1001))),
        .scheduleSign(.init(num: 1234)),
        .meshfl(.escrowLock(job: "job-1", amount: 1_000)),
        .meshfl(.escrowRelease(job: "job-1", task: "t-9", recipient: AccountID(num: 1002), amount: 250)),
        .meshfl(.escrowRefund(job: "job-1")),
        .meshfl(.escrowReleases(job: "job-1", releases: [.init(task: "r0-s0", recipient: AccountID(num: 1002), amount: 25),
                                                         .init(task: "r0-s1", recipient: AccountID(shard: 1, realm: 2, num: 1003), amount: 30)])),
        .meshfl(.stake(amount: 10)),
        .meshfl(.unstake(amount: 10)),
        .meshfl(.slash(account: AccountID(num: 1002), amount: 5, evidenceCID: "bafkreigh2akiscaildc")),
    ]

    @Test(arguments: bodies)
    func bodiesRoundTrip(data: TransactionBody.Data) throws {
        let body = TransactionBody(
            transactionID: TransactionID(payer: AccountID(num: 1001), validStart: .init(seconds: 1_700_000_000, nanos: 5), scheduled: true, nonce: 3),
            nodeAccountID: AccountID(num: 3), transactionFee: 1, validDurationSeconds: 180, memo: "m", data: data)
        #expect(try TransactionBody(decoding: body.encoded()) == body)
    }

    @Test(arguments: ["", "0a", "0aff", "0a0a0b", "ffffffffffffffffffffff01", "0b", "08"])
    func malformedBytesThrow(hex: String) {
        #expect(throws: LedgerError.self) { _ = try TransactionBody(decoding: Fixture.hex(hex)) }
    }

    @Test func unknownFieldsAreSkipped() throws {
        var bytes = Fixture.hex(Self.goldenBody)
        bytes += [0xA8, 0x1F, 0x01]        // field 501, varint 1
        bytes += [0xFA, 0x01, 0x02, 0xAA, 0xBB] // field 31, 2 bytes
        #expect(try TransactionBody(decoding: bytes) == Self.goldenBodyValue())
    }

    @Test func sint64ZigZag() throws {
        for v: Int64 in [0, -1, 1, -500, .min, .max] {
            var w = ProtobufWriter()
            w.sint64(2, v)
            var r = ProtobufReader(w.bytes)
            let got = try r.next().map { try $0.sint64() } ?? 0
            #expect(got == v)
        }
        var w = ProtobufWriter()
        w.sint64(2, -1)
        #expect(w.bytes == [0x10, 0x01])
    }
}
