import Testing
import NIOCore
@testable import Libp2p

private func frames(_ buffer: ByteBuffer) throws -> [YamuxFrame] {
    var b = buffer
    var out: [YamuxFrame] = []
    while let f = try YamuxFrame.peek(b) {
        b.moveReaderIndex(forwardBy: 12 + (f.type == .data ? Int(f.length) : 0))
        out.append(f)
    }
    #expect(b.readableBytes == 0)
    return out
}

private func frame(_ type: YamuxFrame.FrameType, _ flags: YamuxFrame.Flags, _ id: UInt32, _ length: UInt32, payload: [UInt8] = []) -> ByteBuffer {
    var b = ByteBuffer()
    YamuxFrame(type: type, flags: flags, streamID: id, length: length).write(into: &b)
    b.writeBytes(payload)
    return b
}

struct YamuxStateMachineTests {
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func headerBytesAreBigEndian() {
        let b = frame(.windowUpdate, [.syn], 1, 0x0102_0304)
        #expect(Array(b.readableBytesView) == [0, 1, 0, 1, 0, 0, 0, 1, 1, 2, 3, 4])
    }

    @Test func clientOpensOddStreamsWithWindowUpdateSyn() throws {
        var mux = YamuxStateMachine(isClient: true)
        let (a, openA) = try mux.openStream()
        let (b, _) = try mux.openStream()
        #expect(a.number == 1 && b.number == 3 && a.localInitiated)
        #expect(try frames(openA) == [YamuxFrame(type: .windowUpdate, flags: .syn, streamID: 1, length: 0)])
        var server = YamuxStateMachine(isClient: false)
        #expect(try server.openStream().0.number == 2)
    }

    @Test func inboundSynIsAckedSeparatelyAndDataBeforeAckIsAccepted() throws {
        var mux = YamuxStateMachine(isClient: false)
        // py-libp2p style: WINDOW_UPDATE|SYN then data before our ACK, then FIN.
        var input = frame(.windowUpdate, .syn, 1, 0)
        input.writeImmutableBuffer(frame(.data, [], 1, 3, payload: [1, 2, 3]))
        input.writeImmutableBuffer(frame(.data, .fin, 1, 0))
        let action = try mux.receive(&input, now: t0)
        let id = MuxedStreamID(number: 1, localInitiated: false)
        #expect(action.events == [.streamOpened(id), .data(id, ByteBufferBox(ByteBuffer(bytes: [1, 2, 3]))), .remoteClosedWrite(id)])
        #expect(try frames(action.output) == [YamuxFrame(type: .windowUpdate, flags: .ack, streamID: 1, length: 0)])
    }

    @Test func partialFramesWaitForMoreBytes() throws {
        var mux = YamuxStateMachine(isClient: false)
        var input = frame(.windowUpdate, .syn, 1, 0)
        let data = frame(.data, [], 1, 4, payload: [9, 9, 9, 9])
        input.writeBytes(Array(data.readableBytesView.prefix(14)))
        let first = try mux.receive(&input, now: t0)
        #expect(first.events.count == 1)
        #expect(input.readableBytes == 14)
        input.writeBytes(Array(data.readableBytesView.dropFirst(14)))
        #expect(try mux.receive(&input, now: t0).events.count == 1)
    }

    @Test func sendStopsAtWindowAndResumesOnUpdate() throws {
        var mux = YamuxStateMachine(isClient: true)
        let (id, _) = try mux.openStream()
        var data = ByteBuffer(repeating: 7, count: 300 * 1024)
        let out = mux.send(id, &data)
        #expect(data.readableBytes == 300 * 1024 - 256 * 1024)
        #expect(mux.sendWindow(id) == 0)
        let sent = try frames(out)
        #expect(sent.allSatisfy { $0.type == .data && $0.length <= 64 * 1024 })
        #expect(sent.reduce(0) { $0 + Int($1.length) } == 256 * 1024)
        #expect(mux.send(id, &data).readableBytes == 0)
        var update = frame(.windowUpdate, .ack, 1, 100_000)
        #expect(try mux.receive(&update, now: t0).events == [.sendWindowOpened(id)])
        #expect(mux.sendWindow(id) == 100_000)
    }

    @Test func windowUpdatesFollowReadsAndGrowWithDemand() throws {
        var mux = YamuxStateMachine(isClient: false)
        var syn = frame(.windowUpdate, .syn, 1, 0)
        _ = try mux.receive(&syn, now: t0)
        let id = MuxedStreamID(number: 1, localInitiated: false)
        var data = frame(.data, [], 1, 128 * 1024, payload: [UInt8](repeating: 0, count: 128 * 1024))
        _ = try mux.receive(&data, now: t0)
        #expect(mux.consumed(id, bytes: 64 * 1024, now: t0).readableBytes == 0, "no update before half the window is read")
        let first = try frames(mux.consumed(id, bytes: 64 * 1024, now: t0))
        #expect(first == [YamuxFrame(type: .windowUpdate, flags: [], streamID: 1, length: 128 * 1024)])
        // Another half window read soon after: the window doubles to 512 KiB.
        var more = frame(.data, [], 1, 128 * 1024, payload: [UInt8](repeating: 0, count: 128 * 1024))
        _ = try mux.receive(&more, now: t0)
        let grown = try frames(mux.consumed(id, bytes: 128 * 1024, now: t0 + .milliseconds(10)))
        #expect(grown == [YamuxFrame(type: .windowUpdate, flags: [], streamID: 1, length: 128 * 1024 + 256 * 1024)])
        // A slow reader does not grow the window.
        var slow = frame(.data, [], 1, 256 * 1024, payload: [UInt8](repeating: 0, count: 256 * 1024))
        _ = try mux.receive(&slow, now: t0)
        let steady = try frames(mux.consumed(id, bytes: 256 * 1024, now: t0 + .seconds(10)))
        #expect(steady == [YamuxFrame(type: .windowUpdate, flags: [], streamID: 1, length: 256 * 1024)])
    }

    @Test func windowGrowthStopsAt16MiB() throws {
        var mux = YamuxStateMachine(isClient: false)
        var syn = frame(.windowUpdate, .syn, 1, 0)
        _ = try mux.receive(&syn, now: t0)
        let id = MuxedStreamID(number: 1, localInitiated: false)
        var window = 256 * 1024
        for _ in 0..<12 {
            var data = frame(.data, [], 1, UInt32(window), payload: [UInt8](repeating: 0, count: window))
            _ = try mux.receive(&data, now: t0)
            let update = try frames(mux.consumed(id, bytes: window, now: t0))
            window = Int(update.first?.length ?? 0)
        }
        #expect(window == 16 * 1024 * 1024)
    }

    @Test func dataBeyondWindowAndOversizedFramesAreRejected() throws {
        var mux = YamuxStateMachine(isClient: false)
        var input = frame(.windowUpdate, .syn, 1, 0)
        input.writeImmutableBuffer(frame(.data, [], 1, 256 * 1024 + 1, payload: [UInt8](repeating: 0, count: 256 * 1024 + 1)))
        #expect(throws: Libp2pError.self) { try mux.receive(&input, now: t0) }
        var huge = frame(.data, [], 3, 100_000_000)
        var other = YamuxStateMachine(isClient: false)
        #expect { try other.receive(&huge, now: t0) } throws: { ($0 as? Libp2pError)?.code == .messageTooLarge }
        var badVersion = ByteBuffer(bytes: [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
        #expect(throws: Libp2pError.self) { try other.receive(&badVersion, now: t0) }
    }

    @Test func pingIsEchoedAndPongReported() throws {
        var mux = YamuxStateMachine(isClient: true)
        var ping = frame(.ping, .syn, 0, 0xDEAD_BEEF)
        let action = try mux.receive(&ping, now: t0)
        #expect(try frames(action.output) == [YamuxFrame(type: .ping, flags: .ack, streamID: 0, length: 0xDEAD_BEEF)])
        var pong = frame(.ping, .ack, 0, 42)
        #expect(try mux.receive(&pong, now: t0).events == [.pong(42)])
    }

    @Test func goAwayStopsNewStreams() throws {
        var mux = YamuxStateMachine(isClient: true)
        var goAway = frame(.goAway, [], 0, 0)
        #expect(try mux.receive(&goAway, now: t0).events == [.goAway(0)])
        #expect(throws: Libp2pError.self) { try mux.openStream() }
        var ours = YamuxStateMachine(isClient: true)
        #expect(try frames(ours.goAway(code: 0)) == [YamuxFrame(type: .goAway, flags: [], streamID: 0, length: 0)])
        var syn = frame(.windowUpdate, .syn, 2, 0)
        #expect(try frames(ours.receive(&syn, now: t0).output).first?.flags == .rst)
    }

    @Test func finResetAndStreamLimit() throws {
        var config = YamuxStateMachine.Configuration()
        config.maxStreams = 1
        var mux = YamuxStateMachine(isClient: true, configuration: config)
        let (id, _) = try mux.openStream()
        #expect(try frames(mux.closeWrite(id)) == [YamuxFrame(type: .windowUpdate, flags: .fin, streamID: 1, length: 0)])
        #expect(mux.sendWindow(id) == 0)
        var syn = frame(.windowUpdate, .syn, 2, 0)
        #expect(try frames(mux.receive(&syn, now: t0).output) == [YamuxFrame(type: .windowUpdate, flags: .rst, streamID: 2, length: 0)])
        var rst = frame(.windowUpdate, .rst, 1, 0)
        #expect(try mux.receive(&rst, now: t0).events == [.streamReset(id)])
        #expect(mux.streamCount == 0)
        #expect(try frames(mux.reset(id)).isEmpty)
    }
}
