import Testing
import NIOCore
@testable import Libp2p

private func message(_ text: String) -> [UInt8] {
    var b = ByteBuffer()
    MultistreamStateMachine.writeMessage(text, into: &b)
    return Array(b.readableBytesView)
}

struct MultistreamStateMachineTests {
    @Test func messageFramingIsVarintTextNewline() {
        #expect(message("/noise") == [7] + Array("/noise\n".utf8))
        #expect(message(MultistreamStateMachine.protocolID).count == 20)
    }

    @Test func dialerPipelinesHeaderAndProposalAndStopsAtSelection() throws {
        var dialer = MultistreamStateMachine(dialerProposing: ["/noise"])
        #expect(Array(dialer.start().readableBytesView) == message("/multistream/1.0.0") + message("/noise"))
        var inbound = ByteBuffer(bytes: message("/multistream/1.0.0") + message("/noise") + [0x00, 0x20, 0xAA])
        let action = try dialer.receive(&inbound)
        #expect(action.selected == "/noise")
        #expect(action.output.readableBytes == 0)
        #expect(Array(inbound.readableBytesView) == [0x00, 0x20, 0xAA], "pipelined bytes stay for the next layer")
    }

    @Test func dialerFallsBackOnNaAndFailsWhenExhausted() throws {
        var dialer = MultistreamStateMachine(dialerProposing: ["/yamux/1.0.0", "/mplex/6.7.0"])
        _ = dialer.start()
        var inbound = ByteBuffer(bytes: message("/multistream/1.0.0"))
        #expect(try dialer.receive(&inbound).selected == nil)
        inbound.writeBytes(message("na"))
        let a = try dialer.receive(&inbound)
        #expect(Array(a.output.readableBytesView) == message("/mplex/6.7.0"))
        inbound.writeBytes(message("na"))
        #expect(throws: Libp2pError.self) { try dialer.receive(&inbound) }
    }

    @Test func dialerAcceptsBytesOneAtATime() throws {
        var dialer = MultistreamStateMachine(dialerProposing: ["/p"])
        _ = dialer.start()
        var inbound = ByteBuffer()
        var selected: String?
        for byte in message("/multistream/1.0.0") + message("/p") {
            inbound.writeInteger(byte)
            selected = try dialer.receive(&inbound).selected ?? selected
        }
        #expect(selected == "/p")
    }

    @Test func listenerSendsHeaderAtOnceAnswersLsNaAndSelects() throws {
        var listener = MultistreamStateMachine(listenerSupporting: ["/a/1", "/b/1"])
        #expect(Array(listener.start().readableBytesView) == message("/multistream/1.0.0"))
        var inbound = ByteBuffer(bytes: message("/multistream/1.0.0") + message("ls") + message("/c/1") + message("/b/1") + [9])
        let action = try listener.receive(&inbound)
        #expect(action.selected == "/b/1")
        var out = action.output
        let listing = try #require(try MultistreamStateMachine.readMessage(from: &out, maxLength: 65536))
        #expect(try MultistreamStateMachine.parseListing(listing) == ["/a/1", "/b/1"])
        #expect(try MultistreamStateMachine.readMessage(from: &out) == "na")
        #expect(try MultistreamStateMachine.readMessage(from: &out) == "/b/1")
        #expect(out.readableBytes == 0)
        #expect(Array(inbound.readableBytesView) == [9])
    }

    @Test(arguments: [
        [UInt8](message("/multistream/2.0.0")),
        [0x05] + Array("abcde".utf8),                     // no newline
        [0x80, 0x80, 0x04] + [UInt8](repeating: 0x41, count: 4),  // too long
        [0x00],                                          // zero length
    ])
    func listenerRejectsBadInput(bytes: [UInt8]) {
        var listener = MultistreamStateMachine(listenerSupporting: ["/a"])
        _ = listener.start()
        var inbound = ByteBuffer(bytes: bytes)
        #expect(throws: Libp2pError.self) { try listener.receive(&inbound) }
    }
}
