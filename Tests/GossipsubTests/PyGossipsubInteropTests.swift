import Testing
import Libp2p
import PyPeerSupport
@testable import Gossipsub

/// Gossipsub between Swift hosts and a real py-libp2p 0.8.1 peer (`tests/python/pubsub/peer.py`, heartbeat
/// 1 s and D = 3 set explicitly), over TCP on 127.0.0.1, in both directions.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct PyGossipsubInteropTests {
    static let topic = "/meshfl/interop/1"

    static func node(messageID: (@Sendable (PubsubMessage) -> MessageID)? = nil) async throws -> (host: Host, pubsub: GossipsubService) {
        let key = PrivateKey.generate()
        let host = Host(identity: key)
        try await host.listen(on: [Multiaddr("/ip4/127.0.0.1/tcp/0")])
        var config = GossipsubConfiguration()
        config.heartbeatInterval = .milliseconds(200)
        if let messageID { config.messageID = messageID }
        let pubsub = GossipsubService(host: host, key: key, configuration: config)
        await pubsub.start()
        return (host, pubsub)
    }

    /// Waits until `stream` yields a message whose data is `text` (bounded), and returns it.
    static func receive(_ text: String, on stream: AsyncStream<PubsubMessage>, limit: Duration = .seconds(20)) async -> PubsubMessage? {
        await withTaskGroup(of: PubsubMessage?.self) { group in
            group.addTask {
                for await message in stream where message.data == Array(text.utf8) { return message }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// Waits (bounded) until the py peer printed a message with `text` as its data.
    static func pyReceived(_ text: String, by py: PyCommandPeer) async throws -> [String: Any] {
        let hex = hexString(Array(text.utf8))
        _ = try await py.line(startingWith: "MSG ", timeout: .seconds(20)) { $0.contains("\"data\": \"\(hex)\"") }
        return try #require(py.messages.first { $0["data"] as? String == hex })
    }

    static func hexString(_ bytes: [UInt8]) -> String { bytes.map { String($0, radix: 16).leftPad(2) }.joined() }

    static func eventually(_ limit: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }

    /// Two Swift hosts that know each other only through py: each one's messages reach py and the other.
    @Test func swiftAndPyDeliverEachOthersMessagesBothWays() async throws {
        let py = try await PyCommandPeer(["--heartbeat", "1", "--degree", "3"])
        let a = try await Self.node()
        let b = try await Self.node()
        do {
            try await py.command("subscribe", Self.topic)
            let streamA = await a.pubsub.subscribe(Self.topic)
            let streamB = await b.pubsub.subscribe(Self.topic)
            let pyID = try PeerID(string: py.peerIDText)
            _ = try await a.host.connect(to: Multiaddr(py.address))
            _ = try await b.host.connect(to: Multiaddr(py.address))
            // Both sides graft: py's heartbeat and ours put each other in the topic mesh.
            let meshed = try await Self.eventually {
                let pyMesh = try await py.command("mesh", Self.topic)["peers"] as? [String] ?? []
                let meshA = await a.pubsub.meshPeers(Self.topic), meshB = await b.pubsub.meshPeers(Self.topic)
                return meshA.contains(pyID) && meshB.contains(pyID)
                    && pyMesh.contains(a.host.peerID.description) && pyMesh.contains(b.host.peerID.description)
            }
            #expect(meshed, "meshes never formed")
            // Signed peer records from identify verify both ways.
            let pyRecord = try #require(a.host.peerstore.record(for: pyID).signedPeerRecord, "no signed record from py's identify")
            let pyAddresses = try SignedPeerRecord(envelope: pyRecord).addresses.map(\.withoutPeerID)
            #expect(pyAddresses.contains(try Multiaddr(py.address).withoutPeerID), "py's record: \(pyAddresses)")
            let ours = try await py.command("peer-record", a.host.peerID.description)["addrs"] as? [String]
            #expect(ours == (await a.host.listenAddresses.map(\.description)), "py's view of our record")

            // py → Swift: signed by py, verified by us (StrictSign), author is py.
            try await py.command("publish", Self.topic, Self.hexString(Array("from py".utf8)))
            for (name, stream) in [("a", streamA), ("b", streamB)] {
                let message = try #require(await Self.receive("from py", on: stream), "host \(name) missed py's message")
                #expect(message.author == pyID)
                #expect((try? message.verifySignature()) != nil)
            }

            // Swift → py → Swift: py verifies our signature (it drops unsigned or bad ones) and forwards.
            await a.pubsub.publish(Self.topic, Array("from a".utf8))
            let atPy = try await Self.pyReceived("from a", by: py)
            #expect(atPy["from"] as? String == a.host.peerID.description)
            #expect(atPy["signed"] as? Bool == true)
            let relayed = try #require(await Self.receive("from a", on: streamB), "b missed a's message relayed by py")
            #expect(relayed.author == a.host.peerID)
            // py's message id is from ‖ seqno, as ours is by default.
            #expect(atPy["id"] as? String == Self.hexString(MessageID(default: relayed).bytes))
        } catch {
            Issue.record("gossipsub interop failed: \(error)\n\(py.stderrText)")
        }
        await py.stop()
        await a.host.shutdown()
        await b.host.shutdown()
    }

    /// StrictSign both ways: a message whose data was changed after signing is dropped by either side,
    /// while a correctly signed one right behind it is delivered.
    @Test func forgedSignaturesAreDroppedBothWays() async throws {
        let py = try await PyCommandPeer(["--heartbeat", "1", "--degree", "3"])
        let a = try await Self.node()
        let forger = Host(identity: .generate())
        do {
            try await py.command("subscribe", Self.topic)
            let stream = await a.pubsub.subscribe(Self.topic)
            let pyID = try PeerID(string: py.peerIDText)
            _ = try await a.host.connect(to: Multiaddr(py.address))
            #expect(await Self.eventually { await a.pubsub.meshPeers(Self.topic).contains(pyID) })

            // py → Swift: the forged message first, then a good one on the same stream.
            let sent = try await py.command("publish-forged", Self.topic, Self.hexString(Array("forged by py".utf8)))
            #expect(sent["sent"] as? Int ?? 0 >= 1)
            try await py.command("publish", Self.topic, Self.hexString(Array("after forged".utf8)))
            let collected = Task {
                var seen: [String] = []
                for await message in stream {
                    seen.append(String(decoding: message.data, as: UTF8.self))
                    if seen.last == "after forged" { break }
                }
                return seen
            }
            let timeout = Task { try? await Task.sleep(for: .seconds(20)); collected.cancel() }
            let seen = await collected.value
            timeout.cancel()
            #expect(seen.contains("after forged"))
            #expect(!seen.contains { $0.hasPrefix("forged by py") }, "a forged message was delivered: \(seen)")

            // Swift → py: a raw meshsub stream carrying a tampered message, then a good one.
            try await forger.listen(on: [Multiaddr("/ip4/127.0.0.1/tcp/0")])
            _ = try await forger.connect(to: Multiaddr(py.address))
            let raw = try await forger.newStream(to: pyID, protocols: [PubsubProtocol.meshsub11.rawValue])
            var forged = PubsubMessage(data: Array("forged by swift".utf8), seqno: [0, 0, 0, 0, 0, 0, 0, 1], topic: Self.topic)
                .signed(with: forger.identity)
            forged.data += Array("!".utf8)
            let good = PubsubMessage(data: Array("good from swift".utf8), seqno: [0, 0, 0, 0, 0, 0, 0, 2], topic: Self.topic)
                .signed(with: forger.identity)
            try await raw.writeLengthPrefixed(PubsubRPC(subscriptions: [.init(subscribe: true, topic: Self.topic)]).protobufBytes)
            try await raw.writeLengthPrefixed(PubsubRPC(messages: [forged]).protobufBytes)
            try await raw.writeLengthPrefixed(PubsubRPC(messages: [good]).protobufBytes)
            _ = try await Self.pyReceived("good from swift", by: py)
            let forgedHex = Self.hexString(Array("forged by swift!".utf8))
            #expect(!py.messages.contains { $0["data"] as? String == forgedHex }, "py delivered a forged message")
        } catch {
            Issue.record("StrictSign interop failed: \(error)\n\(py.stderrText)")
        }
        await py.stop()
        await a.host.shutdown()
        await forger.shutdown()
    }

    /// With py's content-addressed message ids (base64 of SHA-256 of the data) on both sides, the ids agree.
    @Test func contentAddressedMessageIDsMatchPy() async throws {
        let py = try await PyCommandPeer(["--heartbeat", "1", "--degree", "3", "--message-id", "content"])
        let a = try await Self.node(messageID: { MessageID(contentOf: $0) })
        do {
            try await py.command("subscribe", Self.topic)
            let stream = await a.pubsub.subscribe(Self.topic)
            let pyID = try PeerID(string: py.peerIDText)
            _ = try await a.host.connect(to: Multiaddr(py.address))
            #expect(await Self.eventually { await a.pubsub.meshPeers(Self.topic).contains(pyID) })
            await a.pubsub.publish(Self.topic, Array("content id".utf8))
            let atPy = try await Self.pyReceived("content id", by: py)
            let own = try #require(await Self.receive("content id", on: stream))
            #expect(atPy["id"] as? String == Self.hexString(MessageID(contentOf: own).bytes))
            try await py.command("publish", Self.topic, Self.hexString(Array("content from py".utf8)))
            #expect(await Self.receive("content from py", on: stream) != nil)
        } catch {
            Issue.record("content-id interop failed: \(error)\n\(py.stderrText)")
        }
        await py.stop()
        await a.host.shutdown()
    }
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
