import Testing
import Libp2p
@testable import Gossipsub

struct PubsubRPCTests {
    static func key(_ n: UInt8) -> PrivateKey {
        try! PrivateKey(ed25519Seed: [UInt8](repeating: n, count: 32))
    }

    @Test func fullRPCRoundTrips() throws {
        let message = PubsubMessage(from: [1, 2], data: [3], seqno: [0, 0, 0, 0, 0, 0, 0, 9], topic: "t",
                                    signature: [5, 6], key: [7])
        let control = ControlMessage(
            ihave: [.init(topic: "t", messageIDs: [MessageID([1]), MessageID([2, 3])])],
            iwant: [.init(messageIDs: [MessageID([4])])],
            graft: ["a", "b"],
            prune: [.init(topic: "c", peers: [.init(peerID: [9, 9], signedPeerRecord: [8])], backoff: 60)])
        let rpc = PubsubRPC(subscriptions: [.init(subscribe: true, topic: "t"), .init(subscribe: false, topic: "u")],
                            messages: [message], control: control)
        let decoded = try PubsubRPC(protobuf: rpc.protobufBytes)
        #expect(decoded == rpc)
    }

    @Test func encodingMatchesHandWrittenProtobuf() {
        // SubOpts{subscribe: true, topic: "ab"} in field 1 of RPC.
        let rpc = PubsubRPC(subscriptions: [.init(subscribe: true, topic: "ab")])
        #expect(rpc.protobufBytes == [0x0A, 0x06, 0x08, 0x01, 0x12, 0x02, 0x61, 0x62])
        #expect(rpc.lengthPrefixedBytes == [0x08] + rpc.protobufBytes)
        // GRAFT{topic "x"} inside ControlMessage field 3 inside RPC field 3.
        let graft = PubsubRPC(control: ControlMessage(graft: ["x"]))
        #expect(graft.protobufBytes == [0x1A, 0x05, 0x1A, 0x03, 0x0A, 0x01, 0x78])
    }

    @Test func oversizedRPCIsRefused() {
        var limits = PubsubRPC.Limits()
        limits.maxRPCSize = 16
        let rpc = PubsubRPC(messages: [PubsubMessage(data: [UInt8](repeating: 1, count: 32), topic: "t")])
        #expect(throws: GossipsubError.self) { try PubsubRPC(protobuf: rpc.protobufBytes, limits: limits) }
    }

    @Test func tooManyMessageIDsAreRefused() {
        var limits = PubsubRPC.Limits()
        limits.maxControlIDs = 3
        let ids = (0..<4).map { MessageID([UInt8($0)]) }
        let rpc = PubsubRPC(control: ControlMessage(iwant: [.init(messageIDs: ids)]))
        do {
            _ = try PubsubRPC(protobuf: rpc.protobufBytes, limits: limits)
            Issue.record("expected tooLarge")
        } catch {
            #expect(error.code == .tooLarge)
        }
    }

    @Test(arguments: [[0xFF] as [UInt8], [0x12, 0x05, 0x01], [0x0A, 0x80], [0x12, 0x02, 0x08, 0x01]])
    func garbageIsMalformed(bytes: [UInt8]) {
        // The last input is a message without a topic.
        #expect(throws: GossipsubError.self) { try PubsubRPC(protobuf: bytes) }
    }

    @Test func signedMessageVerifiesAndTamperingFails() throws {
        let key = Self.key(1)
        let message = PubsubMessage(data: Array("hello".utf8), seqno: [0, 0, 0, 0, 0, 0, 0, 1], topic: "jobs")
            .signed(with: key)
        #expect(message.from == key.peerID.bytes)
        #expect(message.key == nil)  // Ed25519 ids embed the key
        try message.verifySignature()
        // Signed bytes are the prefix and from/data/seqno/topic in field order.
        var w = ProtobufWriter()
        w.writeBytes(field: 1, key.peerID.bytes)
        w.writeBytes(field: 2, Array("hello".utf8))
        w.writeBytes(field: 3, [0, 0, 0, 0, 0, 0, 0, 1])
        w.writeString(field: 4, "jobs")
        #expect(message.signingBytes == Array("libp2p-pubsub:".utf8) + w.bytes)
        #expect(key.publicKey.verify(signature: message.signature!, for: Array("libp2p-pubsub:".utf8) + w.bytes))

        var tampered = message
        tampered.data = Array("hellO".utf8)
        #expect(throws: GossipsubError.self) { try tampered.verifySignature() }
        var stolen = message
        stolen.from = Self.key(2).peerID.bytes
        #expect(throws: GossipsubError.self) { try stolen.verifySignature() }
        var unsigned = message
        unsigned.signature = nil
        #expect(throws: GossipsubError.self) { try unsigned.verifySignature() }
        let decoded = try PubsubMessage(protobuf: message.protobufBytes)
        try decoded.verifySignature()
    }

    @Test func messageCacheShiftsAndCountsTransmissions() {
        var cache = MessageCache(historyLength: 3, gossipLength: 2)
        let a = PubsubMessage(data: [1], topic: "t")
        cache.put(a, id: MessageID([1]))
        cache.shift()
        cache.put(PubsubMessage(data: [2], topic: "u"), id: MessageID([2]))
        #expect(cache.gossipIDs(topic: "t") == [MessageID([1])])
        cache.shift()
        #expect(cache.gossipIDs(topic: "t").isEmpty)  // outside the gossip window
        #expect(cache.get(MessageID([1])) == a)  // still in history
        let first = cache.getForPeer(MessageID([1]), limit: 2)
        let second = cache.getForPeer(MessageID([1]), limit: 2)
        let third = cache.getForPeer(MessageID([1]), limit: 2)
        #expect(first == a && second == a && third == nil)
        cache.shift()
        #expect(cache.get(MessageID([1])) == nil)
    }

    @Test func seenCacheExpires() {
        var seen = SeenCache(ttl: .seconds(10))
        let fresh = seen.insert(MessageID([1]), now: .zero)
        let again = seen.insert(MessageID([1]), now: .seconds(5))
        #expect(fresh && !again)
        seen.prune(now: .seconds(10))
        #expect(!seen.contains(MessageID([1])))
    }

    @Test func outboundQueueDropsWhenFull() {
        var queue = OutboundQueue(capacity: 2)
        let accepted = [queue.enqueue(PubsubRPC()), queue.enqueue(PubsubRPC()), queue.enqueue(PubsubRPC())]
        #expect(accepted == [true, true, false])
        #expect(queue.dropped == 1 && queue.count == 2)
        let out = queue.dequeue()
        #expect(out != nil)
        let refill = queue.enqueue(PubsubRPC())
        #expect(refill)
    }
}

extension PubsubRPCTests {
    @Test func emptyControlDecodesToNilSoReencodingRoundTrips() throws {
        let rpc = try PubsubRPC(protobuf: [0x1A, 0x00])
        #expect(rpc.control == nil)
        #expect(try PubsubRPC(protobuf: rpc.protobufBytes) == rpc)
    }
}
