import Testing
import NIOCore
import Crypto
@testable import Libp2p

/// The whole upgrade (multistream → Noise XX → multistream for the muxer) without sockets: what each
/// flight carries, how few flights it takes, and that any split of the bytes gives the same outcome.
struct ConnectionUpgradeStateMachineTests {
    static let yamux = ConnectionUpgrader.yamuxProtocol
    static let mplex = ConnectionUpgrader.mplexProtocol

    static func message(_ text: String) -> [UInt8] {
        var b = ByteBuffer()
        MultistreamStateMachine.writeMessage(text, into: &b)
        return Array(b.readableBytesView)
    }

    /// A dialer and a listener; `inline` says which of them offer their muxers in the handshake.
    static func pair(dialerMuxers: [String] = [yamux, mplex], listenerMuxers: [String] = [yamux, mplex],
                     expected: PeerID? = NoiseHandshakeTests.responderIdentity.peerID,
                     inline: (dialer: Bool, listener: Bool) = (false, false))
        -> (ConnectionUpgradeStateMachine, ConnectionUpgradeStateMachine) {
        let (i, r) = NoiseHandshakeTests.pair(expected: expected)
        return (ConnectionUpgradeStateMachine(isDialer: true, handshake: i, muxers: dialerMuxers, inlineMuxerNegotiation: inline.dialer),
                ConnectionUpgradeStateMachine(isDialer: false, handshake: r, muxers: listenerMuxers, inlineMuxerNegotiation: inline.listener))
    }

    @Test func dialerPipelinesHeaderProposalAndNoiseMessage1() {
        var (dialer, _) = Self.pair()
        let first = Array(dialer.start().readableBytesView)
        let prefix = Self.message(MultistreamStateMachine.protocolID) + Self.message("/noise")
        #expect(Array(first.prefix(prefix.count)) == prefix)
        #expect(Array(first.dropFirst(prefix.count).prefix(2)) == [0x00, 0x20], "Noise message 1 is the 32-byte ephemeral key")
        #expect(first.count == prefix.count + 2 + 32)
    }

    @Test func listenerSendsOnlyItsHeaderFirst() {
        var (_, listener) = Self.pair()
        #expect(Array(listener.start().readableBytesView) == Self.message(MultistreamStateMachine.protocolID))
    }

    /// Runs both machines, delivering each side's output whole; returns the results and the number of
    /// flights each side sent after its start.
    static func run(_ dialer: inout ConnectionUpgradeStateMachine, _ listener: inout ConnectionUpgradeStateMachine)
        throws -> (dialer: ConnectionUpgrader.Result, listener: ConnectionUpgrader.Result, dialerFlights: Int, listenerFlights: Int) {
        var toListener = dialer.start()
        var toDialer = listener.start()
        var dialerResult: ConnectionUpgrader.Result?
        var listenerResult: ConnectionUpgrader.Result?
        var dialerFlights = 0, listenerFlights = 0
        for _ in 0..<8 where dialerResult == nil || listenerResult == nil {
            let l = try listener.receive(&toListener)
            if l.output.readableBytes > 0 { listenerFlights += 1 }
            toDialer.writeImmutableBuffer(l.output)
            listenerResult = listenerResult ?? l.result
            let d = try dialer.receive(&toDialer)
            if d.output.readableBytes > 0 { dialerFlights += 1 }
            toListener.writeImmutableBuffer(d.output)
            dialerResult = dialerResult ?? d.result
        }
        return (try #require(dialerResult), try #require(listenerResult), dialerFlights, listenerFlights)
    }

    /// Without offers in the handshake the listener answers twice (multistream reply + message 2, then
    /// the muxer header + selection) and the dialer once (message 3 + its muxer proposal); with them
    /// the listener's second flight is gone and the dialer sends message 3 alone.
    @Test(arguments: [false, true])
    func upgradeAgreesOnPeersMuxerAndCiphers(inline: Bool) throws {
        var (dialer, listener) = Self.pair(inline: (inline, inline))
        let r = try Self.run(&dialer, &listener)
        #expect(r.dialer.remotePeer == NoiseHandshakeTests.responderIdentity.peerID)
        #expect(r.listener.remotePeer == NoiseHandshakeTests.initiatorIdentity.peerID)
        #expect(r.dialer.muxerProtocol == Self.yamux && r.listener.muxerProtocol == Self.yamux)
        #expect(r.dialer.muxerAgreedInHandshake == inline && r.listener.muxerAgreedInHandshake == inline)
        #expect(r.listenerFlights == (inline ? 1 : 2))
        #expect(r.dialerFlights == 1)

        // The transport ciphers match in both directions.
        var dialerWriter = r.dialer.writer, listenerReader = r.listener.reader
        listenerReader.raw = try dialerWriter.seal(ByteBuffer(string: "hello"))
        #expect(String(buffer: try listenerReader.decryptAvailable()) == "hello")
        var listenerWriter = r.listener.writer, dialerReader = r.dialer.reader
        dialerReader.raw = try listenerWriter.seal(ByteBuffer(string: "world"))
        #expect(String(buffer: try dialerReader.decryptAvailable()) == "world")
    }

    @Test func bytesOneAtATimeGiveTheSameOutcome() throws {
        var (dialer, listener) = Self.pair()
        var toListener = dialer.start()
        var toDialer = listener.start()
        var inListener = ByteBuffer(), inDialer = ByteBuffer()
        var dialerResult: ConnectionUpgrader.Result?
        var listenerResult: ConnectionUpgrader.Result?
        var steps = 0
        while (dialerResult == nil || listenerResult == nil) && steps < 10_000 {
            steps += 1
            if let byte = toListener.readInteger(as: UInt8.self) {
                inListener.writeInteger(byte)
                let a = try listener.receive(&inListener)
                toDialer.writeImmutableBuffer(a.output)
                listenerResult = listenerResult ?? a.result
            }
            if let byte = toDialer.readInteger(as: UInt8.self) {
                inDialer.writeInteger(byte)
                let a = try dialer.receive(&inDialer)
                toListener.writeImmutableBuffer(a.output)
                dialerResult = dialerResult ?? a.result
            }
        }
        #expect(try #require(dialerResult).muxerProtocol == Self.yamux)
        #expect(try #require(listenerResult).remotePeer == NoiseHandshakeTests.initiatorIdentity.peerID)
    }

    @Test func bytesAfterTheMuxerSelectionAreHandedOver() throws {
        var (dialer, listener) = Self.pair()
        var toListener = dialer.start()
        var toDialer = listener.start()
        toDialer.writeImmutableBuffer(try listener.receive(&toListener).output)
        let d = try dialer.receive(&toDialer)
        toListener.writeImmutableBuffer(d.output)
        let l = try listener.receive(&toListener)
        var listenerResult = try #require(l.result)
        toDialer.writeImmutableBuffer(l.output)
        // The listener writes a first muxer frame in the same flight as its selection.
        toDialer.writeImmutableBuffer(try listenerResult.writer.seal(ByteBuffer(bytes: [1, 2, 3])))
        let done = try dialer.receive(&toDialer)
        let dialerResult = try #require(done.result)
        #expect(Array(dialerResult.leftover.readableBytesView) == [1, 2, 3])
        #expect(toDialer.readableBytes == 0)
    }

    @Test func dialerFallsBackToTheListenersMuxer() throws {
        var (dialer, listener) = Self.pair(listenerMuxers: [Self.mplex])
        let r = try Self.run(&dialer, &listener)
        #expect(r.dialer.muxerProtocol == Self.mplex && r.listener.muxerProtocol == Self.mplex)
    }

    // MARK: Muxers agreed in the handshake (inlined muxer negotiation)

    @Test func dialerIsReadyWithMessage3AndItsMuxerFramesFollowInTheSameFlight() throws {
        var (dialer, listener) = Self.pair(inline: (true, true))
        var toListener = dialer.start()
        var toDialer = listener.start()
        toDialer.writeImmutableBuffer(try listener.receive(&toListener).output)
        let d = try dialer.receive(&toDialer)
        var dialerResult = try #require(d.result, "the dialer needs no answer after message 2")
        #expect(dialerResult.leftover.readableBytes == 0)
        toListener.writeImmutableBuffer(d.output)
        toListener.writeImmutableBuffer(try dialerResult.writer.seal(ByteBuffer(bytes: [1, 2, 3])))
        let l = try listener.receive(&toListener)
        var listenerResult = try #require(l.result)
        #expect(l.output.readableBytes == 0)
        #expect(toListener.readableBytes == 0, "the muxer's bytes go to the result, not left behind")
        #expect(Array(try listenerResult.reader.decryptAvailable().readableBytesView) == [1, 2, 3])
    }

    @Test func inlinedMuxerIsTheDialersFirstChoiceTheListenerOffers() throws {
        // The listener prefers mplex, the dialer yamux: the dialer's order wins, as the spec's rule says and
        // go-libp2p does (the spec's own example, left from an earlier draft, picks the listener's).
        var (dialer, listener) = Self.pair(dialerMuxers: [Self.yamux, Self.mplex], listenerMuxers: [Self.mplex, Self.yamux],
                                           inline: (true, true))
        var r = try Self.run(&dialer, &listener)
        #expect(r.dialer.muxerProtocol == Self.yamux && r.listener.muxerProtocol == Self.yamux)
        (dialer, listener) = Self.pair(dialerMuxers: [Self.mplex, Self.yamux], listenerMuxers: [Self.yamux], inline: (true, true))
        r = try Self.run(&dialer, &listener)
        #expect(r.dialer.muxerProtocol == Self.yamux && r.listener.muxerProtocol == Self.yamux)
        #expect(r.listenerFlights == 1)
    }

    @Test(arguments: [(true, false), (false, true)])
    func aSideOfferingNoMuxersGetsMultistreamSelect(dialerInline: Bool, listenerInline: Bool) throws {
        var (dialer, listener) = Self.pair(inline: (dialerInline, listenerInline))
        let r = try Self.run(&dialer, &listener)
        #expect(r.dialer.muxerProtocol == Self.yamux && r.listener.muxerProtocol == Self.yamux)
        #expect(r.listenerFlights == 2, "the muxer took the multistream round")
    }

    @Test func inlinedOffersWithNothingInCommonFailTheHandshake() throws {
        var (dialer, listener) = Self.pair(dialerMuxers: [Self.yamux], listenerMuxers: [Self.mplex], inline: (true, true))
        var toListener = dialer.start()
        var toDialer = listener.start()
        toDialer.writeImmutableBuffer(try listener.receive(&toListener).output)
        // The dialer learns the listener's offer from message 2 and fails before sending message 3.
        #expect { _ = try dialer.receive(&toDialer) } throws: { ($0 as? Libp2pError)?.code == .protocolNegotiationFailed }
    }

    @Test func noCommonMuxerFails() throws {
        var (dialer, listener) = Self.pair(dialerMuxers: [Self.yamux], listenerMuxers: [Self.mplex])
        #expect(throws: Libp2pError.self) { _ = try Self.run(&dialer, &listener) }
    }

    @Test func wrongExpectedPeerFailsWithPeerIDMismatch() throws {
        var (dialer, listener) = Self.pair(expected: PrivateKey.generate().peerID)
        #expect { _ = try Self.run(&dialer, &listener) } throws: { ($0 as? Libp2pError)?.code == .peerIDMismatch }
    }

    @Test func garbageInsteadOfAHeaderFails() {
        var (_, listener) = Self.pair()
        _ = listener.start()
        var junk = ByteBuffer(bytes: [0x05] + Array("junk\n".utf8))
        #expect(throws: Libp2pError.self) { try listener.receive(&junk) }
    }
}
