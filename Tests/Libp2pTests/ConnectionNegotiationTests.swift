import Testing
import NIOCore
@testable import Libp2p

/// Stream work that runs inside a connection on its event loop: negotiation and bounded reads.
@Suite(.timeLimit(.minutes(1)))
struct ConnectionNegotiationTests {
    static let hold = "/test/hold/1.0.0"

    /// A server whose `hold` handler writes `bytes` and closes, or keeps the stream open for a while if `close` is false.
    static func server(writing bytes: Int, close: Bool) async throws -> Host {
        let server = try await TestSupport.host()
        await server.setHandler(hold) { stream in
            try? await stream.write(ByteBuffer(bytes: [UInt8](repeating: 7, count: bytes)))
            if close {
                await stream.closeWrite()
            } else {
                try? await Task.sleep(for: .seconds(3))
                await stream.reset()
            }
        }
        return server
    }

    @Test func readToEndReturnsEverythingUntilTheRemoteCloses() async throws {
        let server = try await Self.server(writing: 100_000, close: true)
        let client = try await TestSupport.host()
        let peer = try await client.connect(to: await server.fullAddresses[0])
        let stream = try await client.newStream(to: peer, protocols: [Self.hold])
        #expect(stream.protocolID == Self.hold)
        let all = try await stream.connection.readToEnd(stream.id, limit: 100_000, timeout: .seconds(10))
        #expect(all.readableBytes == 100_000)
        await client.shutdown()
        await server.shutdown()
    }

    @Test func readToEndFailsBeyondItsLimit() async throws {
        let server = try await Self.server(writing: 1_000, close: true)
        let client = try await TestSupport.host()
        let stream = try await client.newStream(to: await server.fullAddresses[0], protocols: [Self.hold])
        await #expect { _ = try await stream.connection.readToEnd(stream.id, limit: 10, timeout: .seconds(10)) } throws: {
            ($0 as? Libp2pError)?.code == .messageTooLarge
        }
        await client.shutdown()
        await server.shutdown()
    }

    @Test func readToEndTimesOutOnAStreamThatStaysOpen() async throws {
        let server = try await Self.server(writing: 10, close: false)
        let client = try await TestSupport.host()
        let stream = try await client.newStream(to: await server.fullAddresses[0], protocols: [Self.hold])
        await #expect { _ = try await stream.connection.readToEnd(stream.id, limit: 1_000, timeout: .milliseconds(300)) } throws: {
            ($0 as? Libp2pError)?.code == .timeout
        }
        await client.shutdown()
        await server.shutdown()
    }

    @Test func unsupportedProtocolFailsNegotiationAndTheConnectionStaysUp() async throws {
        let server = try await TestSupport.host()
        let client = try await TestSupport.host()
        let peer = try await client.connect(to: await server.fullAddresses[0])
        await #expect { _ = try await client.newStream(to: peer, protocols: ["/nobody/1.0.0"]) } throws: {
            ($0 as? Libp2pError)?.code == .protocolNegotiationFailed
        }
        let r = try await TestSupport.echo([4, 5, 6], to: peer, from: client)
        #expect(r.sent == r.received)
        await client.shutdown()
        await server.shutdown()
    }

    /// The host identifies every new connection: its identify stream's SYN and multistream proposal must
    /// leave together in one Noise frame (one seal, one socket write), not one frame each.
    @Test func aNewStreamLeavesWithItsProposalInOneNoiseFrame() async throws {
        let server = try await TestSupport.host()
        let tcp = try await TCPTransport().dial(await server.listenAddresses[0], timeout: .seconds(2))
        let upgraded = try await ConnectionUpgrader(identity: .generate(), muxers: [ConnectionUpgrader.yamuxProtocol])
            .upgrade(tcp, isDialer: true, expectedPeer: server.peerID)
        var plain = upgraded.leftover
        if plain.readableBytes == 0 {
            // Read one whole Noise frame and decrypt it alone.
            var raw = upgraded.reader.raw
            while raw.readableBytes < 2 || raw.readableBytes < 2 + Int(raw.getInteger(at: raw.readerIndex, as: UInt16.self)!) {
                guard var more = try await tcp.read() else { Issue.record("server closed"); return }
                raw.writeBuffer(&more)
            }
            let length = Int(raw.getInteger(at: raw.readerIndex, as: UInt16.self)!)
            var reader = upgraded.reader
            reader.raw = raw.getSlice(at: raw.readerIndex, length: 2 + length)!
            plain = try reader.decryptAvailable()
        }
        let syn = try #require(try YamuxFrame.peek(plain))
        #expect(syn.type == .windowUpdate && syn.flags.contains(.syn) && syn.streamID % 2 == 0)
        plain.moveReaderIndex(forwardBy: YamuxFrame.headerLength)
        let data = try #require(try YamuxFrame.peek(plain), "the proposal is in the same Noise frame as the SYN")
        #expect(data.type == .data && data.streamID == syn.streamID)
        plain.moveReaderIndex(forwardBy: YamuxFrame.headerLength)
        #expect(try MultistreamStateMachine.readMessage(from: &plain) == MultistreamStateMachine.protocolID)
        #expect(try MultistreamStateMachine.readMessage(from: &plain) == Identify.protocolID)
        tcp.close()
        await server.shutdown()
    }

    /// `writeAndClose` sends a response and the end of the stream in one Noise frame (one seal, one socket
    /// write), where `write` then `closeWrite` cost two. Seen from a raw client that decrypts frame by frame.
    @Test func aResponseAndItsEndLeaveInOneNoiseFrame() async throws {
        let server = try await TestSupport.host { $0.identifyOnConnect = false }
        let proto = "/meshfl/test/one-frame/1.0.0"
        let response = ByteBuffer(bytes: Array(repeating: 0x5A, count: 300))
        await server.setHandler(proto) { stream in try? await stream.writeAndClose(response) }
        let tcp = try await TCPTransport().dial(await server.listenAddresses[0], timeout: .seconds(2))
        let upgraded = try await ConnectionUpgrader(identity: .generate(), muxers: [ConnectionUpgrader.yamuxProtocol])
            .upgrade(tcp, isDialer: true, expectedPeer: server.peerID)
        // Open stream 1 and propose the protocol, as a dialler does.
        var plain = ByteBuffer()
        YamuxFrame(type: .windowUpdate, flags: .syn, streamID: 1, length: 0).write(into: &plain)
        var proposal = ByteBuffer()
        MultistreamStateMachine.writeMessage(MultistreamStateMachine.protocolID, into: &proposal)
        MultistreamStateMachine.writeMessage(proto, into: &proposal)
        YamuxFrame(type: .data, flags: [], streamID: 1, length: UInt32(proposal.readableBytes)).write(into: &plain)
        plain.writeBuffer(&proposal)
        var writer = upgraded.writer
        try await tcp.write(try writer.seal(plain)).get()

        // Decrypt frame by frame until the stream's FIN; remember which frame carried what.
        var reader = upgraded.reader
        var raw = upgraded.reader.raw
        var payloadFrame: Int?
        var finFrame: Int?
        var payload = 0
        var frameIndex = 0
        var buffered = upgraded.leftover
        while finFrame == nil, frameIndex < 20 {
            while raw.readableBytes < 2 || raw.readableBytes < 2 + Int(raw.getInteger(at: raw.readerIndex, as: UInt16.self)!) {
                guard var more = try await tcp.read() else { Issue.record("server closed before the FIN"); return }
                raw.writeBuffer(&more)
            }
            let length = Int(raw.getInteger(at: raw.readerIndex, as: UInt16.self)!)
            reader.raw = raw.readSlice(length: 2 + length)!
            var frame = try reader.decryptAvailable()
            buffered.writeBuffer(&frame)
            frameIndex += 1
            while let header = try YamuxFrame.peek(buffered), header.type != .data || buffered.readableBytes >= YamuxFrame.headerLength + Int(header.length) {
                buffered.moveReaderIndex(forwardBy: YamuxFrame.headerLength)
                if header.type == .data { buffered.moveReaderIndex(forwardBy: Int(header.length)) }
                guard header.streamID == 1 else { continue }
                if header.type == .data, header.length > 0 {
                    payload += Int(header.length)
                    if payload >= response.readableBytes { payloadFrame = payloadFrame ?? frameIndex }
                }
                if header.flags.contains(.fin) { finFrame = frameIndex }
            }
        }
        #expect(payloadFrame != nil && finFrame != nil, "the response and the FIN arrived")
        #expect(payloadFrame == finFrame, "the last bytes and the FIN came in the same Noise frame")
        tcp.close()
        await server.shutdown()
    }

    /// A request does not wait for the protocol's answer: its stream's SYN, the proposal, the request and
    /// its FIN all reach a raw listener that never answers anything — one flight, where waiting for the
    /// answer cost a round trip more (a WAN round trip per claim and per receipt).
    @Test func aRequestDoesNotWaitForTheProtocolsAnswer() async throws {
        let serverKey = PrivateKey.generate()
        let (frames, sink) = AsyncStream<[YamuxFrame]>.makeStream()
        let listener = try await TCPTransport().listen(on: Multiaddr("/ip4/127.0.0.1/tcp/0")) { tcp in
            Task {
                defer { sink.finish() }
                guard let upgraded = try? await ConnectionUpgrader(identity: serverKey, muxers: [ConnectionUpgrader.yamuxProtocol])
                    .upgrade(tcp, isDialer: false, expectedPeer: nil) else { return }
        var reader = upgraded.reader
                var raw = upgraded.reader.raw
                for _ in 0..<20 {
                    while raw.readableBytes < 2 || raw.readableBytes < 2 + Int(raw.getInteger(at: raw.readerIndex, as: UInt16.self)!) {
                        guard var more = try? await tcp.read() else { return }
                        raw.writeBuffer(&more)
                    }
                    let length = Int(raw.getInteger(at: raw.readerIndex, as: UInt16.self)!)
                    reader.raw = raw.readSlice(length: 2 + length)!
                    guard var plain = try? reader.decryptAvailable() else { return }
                    var headers: [YamuxFrame] = []
                    while let header = try? YamuxFrame.peek(plain) {
                        headers.append(header)
                        plain.moveReaderIndex(forwardBy: YamuxFrame.headerLength + (header.type == .data ? Int(header.length) : 0))
                    }
                    sink.yield(headers)
                }
            }
        }
        let client = try await TestSupport.host {
            $0.identifyOnConnect = false
            $0.keepAliveInterval = nil
        }
        let peer = try await client.connect(to: Multiaddr("\(listener.address)/p2p/\(serverKey.peerID)"))
        let rr = RequestResponse(protocolID: "/meshfl/test/one-flight/1.0.0", maxMessageSize: 100, timeout: .milliseconds(500))
        await #expect { _ = try await rr.request(peer, payload: [7, 7, 7], on: client) } throws: { ($0 as? Libp2pError)?.code == .timeout }
        // Everything the stream sent, in order, until its FIN (the listener wrote nothing after the handshake).
        var stream: [YamuxFrame] = []
        var id: UInt32?
        for await headers in frames {
            if id == nil { id = headers.first { $0.flags.contains(.syn) }?.streamID }
            guard let id else { continue }
            stream += headers.filter { $0.streamID == id }
            if stream.contains(where: { $0.flags.contains(.fin) || $0.flags.contains(.rst) }) { break }
        }
        #expect(id != nil, "the stream was opened")
        let data = stream.filter { $0.type == .data }.map { Int($0.length) }.reduce(0, +)
        #expect(data == 20 + 31 + 4, "multistream header, proposal and the 3-byte request: \(data) bytes")
        #expect(stream.contains { $0.flags.contains(.fin) }, "and the request's end")
        await client.shutdown()
        await listener.close()
    }
}
