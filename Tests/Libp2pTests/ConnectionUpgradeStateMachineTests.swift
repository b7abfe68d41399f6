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

    static func pair(dialerMuxers: [String] = [yamux, mplex], listenerMuxers: [String] = [yamux, mplex],
                     expected: PeerID? = NoiseHandshakeTests.responderIdentity.peerID)
        -> (ConnectionUpgradeStateMachine, ConnectionUpgradeStateMachine) {
        let (i, r) = NoiseHandshakeTests.pair(expected: expected)
        return (ConnectionUpgradeStateMachine(isDialer: true, handshake: i, muxers: dialerMuxers),
                ConnectionUpgradeStateMachine(isDialer: false, handshake: r, muxers: listenerMuxers))
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

    @Test func upgradeTakesTwoFlightsEachWayAndAgreesOnPeersAndMuxer() throws {
        var (dialer, listener) = Self.pair()
        let r = try Self.run(&dialer, &listener)
        #expect(r.dialer.remotePeer == NoiseHandshakeTests.responderIdentity.peerID)
        #expect(r.listener.remotePeer == NoiseHandshakeTests.initiatorIdentity.peerID)
        #expect(r.dialer.muxerProtocol == Self.yamux && r.listener.muxerProtocol == Self.yamux)
        // Listener: multistream reply + message 2, then muxer header + selection. Dialer: message 3 + muxer proposal.
        #expect(r.listenerFlights == 2)
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
