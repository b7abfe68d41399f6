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
}
