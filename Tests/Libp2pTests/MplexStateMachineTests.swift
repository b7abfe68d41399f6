import Testing
import NIOCore
@testable import Libp2p

struct MplexStateMachineTests {
    let now = NIODeadline.uptimeNanoseconds(0)

    @Test func openSendCloseResetFrameBytes() throws {
        var mux = MplexStateMachine()
        let (id, open) = try mux.openStream()
        #expect(Array(open.readableBytesView) == [0x00, 0x01, UInt8(ascii: "0")])
        var data = ByteBuffer(bytes: [0xAA, 0xBB])
        #expect(Array(mux.send(id, &data).readableBytesView) == [0x02, 0x02, 0xAA, 0xBB])
        #expect(Array(mux.closeWrite(id).readableBytesView) == [0x04, 0x00])
        #expect(Array(mux.reset(id).readableBytesView) == [0x06, 0x00])
    }

    @Test func remoteStreamsAreKeyedByOpener() throws {
        var mux = MplexStateMachine()
        let (mine, _) = try mux.openStream()  // our stream 0
        // The remote opens its own stream 0, sends on it, and replies on ours.
        var input = ByteBuffer(bytes: [0x00, 0x00, 0x02, 0x01, 0x61, 0x01, 0x01, 0x62, 0x04, 0x00, 0x03, 0x00])
        let action = try mux.receive(&input, now: now)
        let theirs = MuxedStreamID(number: 0, localInitiated: false)
        #expect(action.events == [
            .streamOpened(theirs),
            .data(theirs, ByteBufferBox(ByteBuffer(bytes: [0x61]))),
            .data(mine, ByteBufferBox(ByteBuffer(bytes: [0x62]))),
            .remoteClosedWrite(theirs),
            .remoteClosedWrite(mine),
        ])
        var reply = ByteBuffer(bytes: [0x63])
        #expect(Array(mux.send(theirs, &reply).readableBytesView) == [0x01, 0x01, 0x63])
    }

    @Test func largeWritesSplitAtOneMiBAndOversizedFramesAreRejected() throws {
        var mux = MplexStateMachine()
        let (id, _) = try mux.openStream()
        var data = ByteBuffer(repeating: 1, count: (1 << 20) + 5)
        var out = mux.send(id, &data)
        #expect(out.readableBytes == (1 << 20) + 5 + 1 + 3 + 1 + 1)
        var peer = MplexStateMachine()
        var open = ByteBuffer(bytes: [0x00, 0x00])
        _ = try peer.receive(&open, now: now)
        let events = try peer.receive(&out, now: now).events
        #expect(events.count == 2)
        var huge = ByteBuffer(bytes: [0x02, 0x81, 0x80, 0x40])  // length 1 MiB + 1
        #expect { try peer.receive(&huge, now: now) } throws: { ($0 as? Libp2pError)?.code == .messageTooLarge }
        var badFlag = ByteBuffer(bytes: [0x07, 0x00])
        #expect(throws: Libp2pError.self) { try MplexStateMachine().receiveCopy(&badFlag) }
    }

    @Test func resetAndLimit() throws {
        var mux = MplexStateMachine(maxStreams: 1)
        var input = ByteBuffer(bytes: [0x00, 0x00, 0x08, 0x00, 0x06, 0x00])
        let action = try mux.receive(&input, now: now)
        #expect(action.events == [.streamOpened(MuxedStreamID(number: 0, localInitiated: false)),
                                  .streamReset(MuxedStreamID(number: 0, localInitiated: false))])
        #expect(Array(action.output.readableBytesView) == [0x0d, 0x00], "stream 1 over the limit is reset")
    }
}

extension MplexStateMachine {
    func receiveCopy(_ buffer: inout ByteBuffer) throws {
        var copy = self
        _ = try copy.receive(&buffer, now: .uptimeNanoseconds(0))
    }
}
