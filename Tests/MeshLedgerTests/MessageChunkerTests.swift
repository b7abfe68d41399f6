import Testing
@testable import MeshLedger

struct MessageChunkerTests {
    let id = TransactionID(payer: AccountID(num: 1001), validStart: ConsensusTimestamp(seconds: 1_700_000_000, nanos: 999_999_999))
    let topic = TopicID(num: 5005)

    @Test(arguments: [0, 1, 1024])
    func smallMessagesAreOneChunkWithoutInfo(size: Int) throws {
        let chunks = try MessageChunker.split([UInt8](repeating: 7, count: size), topic: topic, initialTransactionID: id)
        #expect(chunks.count == 1)
        #expect(chunks[0].submit.chunkInfo == nil)
        #expect(chunks[0].transactionID == id)
    }

    @Test(arguments: [(1025, 2), (2048, 2), (2049, 3), (20 * 1024, 20)])
    func largeMessagesSplitAt1024(size: Int, expected: Int) throws {
        let message = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let chunks = try MessageChunker.split(message, topic: topic, initialTransactionID: id)
        #expect(chunks.count == expected)
        for (i, c) in chunks.enumerated() {
            #expect(c.submit.message.count <= 1024)
            #expect(c.submit.chunkInfo == TransactionBody.ChunkInfo(initialTransactionID: id, total: Int32(expected), number: Int32(i + 1)))
            #expect(c.transactionID.payer == id.payer)
            #expect(c.transactionID.validStart == id.validStart.adding(nanoseconds: Int64(i)))
        }
        #expect(chunks.flatMap(\.submit.message) == message)
        // The second chunk's valid start rolls over into the next second.
        #expect(chunks[1].transactionID.validStart == ConsensusTimestamp(seconds: 1_700_000_001, nanos: 0))
    }

    @Test func tooManyChunksIsRejected() {
        #expect(throws: LedgerError.self) {
            _ = try MessageChunker.split([UInt8](repeating: 1, count: 20 * 1024 + 1), topic: topic, initialTransactionID: id)
        }
    }

    @Test func joinReassemblesOutOfOrderAndInterleavedChunks() throws {
        let a = (0..<2500).map { UInt8(truncatingIfNeeded: $0) }
        let b = Array("small".utf8)
        let ca = try MessageChunker.split(a, topic: topic, initialTransactionID: id)
        func rec(_ c: MessageChunker.Chunk, _ seq: Int64) -> TopicMessage {
            TopicMessage(topic: topic, sequenceNumber: seq, consensusTimestamp: .init(seconds: seq), runningHash: [],
                         payer: id.payer, contents: c.submit.message, chunkInfo: c.submit.chunkInfo)
        }
        let small = TopicMessage(topic: topic, sequenceNumber: 2, consensusTimestamp: .init(seconds: 2), runningHash: [], payer: id.payer, contents: b)
        let joined = MessageChunker.join([rec(ca[1], 1), small, rec(ca[0], 3), rec(ca[2], 4)])
        #expect(joined == [b, a])
        #expect(MessageChunker.join([rec(ca[0], 1)]).isEmpty)
    }
}
