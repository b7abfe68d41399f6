import NIOCore

/// The whole connection upgrade as one state machine with no I/O: multistream-select for `/noise`,
/// the Noise XX handshake, then the muxer: agreed inside the handshake when both sides offer theirs
/// there, else by multistream-select inside the secure channel.
///
/// Each side sends as early as the protocols allow, so the upgrade costs the fewest round trips:
/// the dialer pipelines its multistream header, the `/noise` proposal and Noise message 1; the
/// listener answers message 1 in the same flight as its multistream reply.
///
/// The muxer (libp2p's inlined muxer negotiation): the listener offers its muxers in message 2's
/// payload, the dialer its own in message 3's, and the muxer is the first of the dialer's that the
/// listener offered, with no further round trip: the dialer may send muxer frames right behind
/// message 3. If either side offered none (py-libp2p 0.8.1 offers none), multistream-select picks
/// it: the dialer sends its proposal with message 3, the listener its header and selection in one
/// frame. Bytes that follow the agreement are handed over untouched in the result.
///
/// ```swift
/// var upgrade = ConnectionUpgradeStateMachine(isDialer: true, identity: key, expectedPeer: id, muxers: ["/yamux/1.0.0"])
/// send(upgrade.start())
/// let action = try upgrade.receive(&inbound)   // send action.output; repeat until action.result != nil
/// ```
struct ConnectionUpgradeStateMachine: Sendable {
    /// What to do after feeding bytes.
    struct Action: Sendable {
        /// Bytes to send (possibly empty).
        var output = ByteBuffer()
        /// Set once the connection is secured and its muxer agreed on.
        var result: ConnectionUpgrader.Result?
    }

    private enum State: Sendable {
        case idle
        case security(MultistreamStateMachine, NoiseHandshake)
        case noise(NoiseHandshake)
        case muxer(MultistreamStateMachine, NoiseHandshake.Result, NoiseTransportReader, NoiseTransportWriter, plain: ByteBuffer)
        case done
    }

    private let isDialer: Bool
    private let muxers: [String]
    private let offersMuxersInHandshake: Bool
    private var state: State

    /// An upgrade for the dialling side (`isDialer`) or the listening side, offering `muxers` (most
    /// preferred first) in the handshake too unless `inlineMuxerNegotiation` is false.
    init(isDialer: Bool, handshake: NoiseHandshake, muxers: [String], inlineMuxerNegotiation: Bool = true) {
        precondition(!muxers.isEmpty, "at least one muxer must be offered")
        self.isDialer = isDialer
        self.muxers = muxers
        offersMuxersInHandshake = inlineMuxerNegotiation
        var handshake = handshake
        handshake.streamMuxers = inlineMuxerNegotiation ? muxers : []
        let security = isDialer
            ? MultistreamStateMachine(dialerProposing: [ConnectionUpgrader.noiseProtocol])
            : MultistreamStateMachine(listenerSupporting: [ConnectionUpgrader.noiseProtocol])
        state = .security(security, handshake)
    }

    /// An upgrade with a fresh Noise handshake for `identity`.
    init(isDialer: Bool, identity: PrivateKey, expectedPeer: PeerID?, muxers: [String], inlineMuxerNegotiation: Bool = true) {
        let handshake = NoiseHandshake(role: isDialer ? .initiator : .responder, identity: identity, expectedPeer: expectedPeer)
        self.init(isDialer: isDialer, handshake: handshake, muxers: muxers, inlineMuxerNegotiation: inlineMuxerNegotiation)
    }

    /// The muxer both handshake payloads agree on: the first of the dialer's offer that the listener
    /// offered too; `nil` if either side offered none, so multistream-select must pick it.
    ///
    /// - Throws: ``Libp2pError/Code/protocolNegotiationFailed`` if both offered and nothing is common
    ///   (the spec fails the handshake then).
    private func inlinedMuxer(_ secured: NoiseHandshake.Result) throws(Libp2pError) -> String? {
        guard offersMuxersInHandshake, !secured.remoteStreamMuxers.isEmpty else { return nil }
        let (dialerOffer, listenerOffer) = isDialer ? (muxers, secured.remoteStreamMuxers) : (secured.remoteStreamMuxers, muxers)
        guard let muxer = dialerOffer.first(where: listenerOffer.contains) else {
            throw Libp2pError(.protocolNegotiationFailed,
                              "no stream muxer in common: this side offers \(muxers), the remote \(secured.remoteStreamMuxers)")
        }
        return muxer
    }

    /// The bytes to send as soon as the socket is up: the multistream header (and, for the dialer,
    /// the `/noise` proposal and Noise message 1 with it).
    mutating func start() -> ByteBuffer {
        guard case .security(var security, var handshake) = state else {
            preconditionFailure("start() called twice")
        }
        var out = security.start()
        if isDialer {
            // The listener offers nothing but /noise, so message 1 may follow the proposal at once.
            var first = handshake.start()
            out.writeBuffer(&first)
        }
        state = .security(security, handshake)
        return out
    }

    /// Feeds received bytes; consumes what it can from `buffer` and says what to send.
    ///
    /// - Throws: ``Libp2pError`` when the remote breaks a protocol, fails authentication, is not the
    ///   expected peer, or supports none of our muxers. The connection must then be closed.
    mutating func receive(_ buffer: inout ByteBuffer) throws(Libp2pError) -> Action {
        var action = Action()
        while true {
            switch state {
            case .idle, .done:
                return action

            case .security(var security, let handshake):
                let step = try security.receive(&buffer)
                action.output.writeImmutableBuffer(step.output)
                guard step.selected != nil else {
                    state = .security(security, handshake)
                    return action
                }
                state = .noise(handshake)

            case .noise(var handshake):
                let before = buffer.readableBytes
                let step = try handshake.receive(&buffer)
                action.output.writeImmutableBuffer(step.output)
                guard let secured = step.result else {
                    state = .noise(handshake)
                    if buffer.readableBytes == before { return action }
                    continue
                }
                var reader = NoiseTransportReader(cipher: secured.receiveCipher, raw: ByteBuffer())
                var writer = NoiseTransportWriter(cipher: secured.sendCipher)
                if let muxer = try inlinedMuxer(secured) {
                    // Agreed in the handshake: whatever follows is already the muxer's (encrypted).
                    reader.raw.append(adopting: &buffer)
                    buffer = ByteBuffer()
                    state = .done
                    action.result = ConnectionUpgrader.Result(remotePeer: secured.remotePeer, remoteKey: secured.remoteKey, reader: reader,
                                                              writer: writer, muxerProtocol: muxer, muxerAgreedInHandshake: true,
                                                              leftover: ByteBuffer())
                    return action
                }
                var muxer = isDialer
                    ? MultistreamStateMachine(dialerProposing: muxers)
                    : MultistreamStateMachine(listenerSupporting: muxers)
                let hello = muxer.start()
                if isDialer {
                    // Sent with message 3; the listener holds it until its handshake completes.
                    action.output.writeImmutableBuffer(try writer.seal(hello))
                    state = .muxer(muxer, secured, reader, writer, plain: ByteBuffer())
                } else {
                    // The listener's header goes out with its first answer (below), in one frame.
                    state = .muxer(muxer, secured, reader, writer, plain: ByteBuffer())
                    action.output.writeImmutableBuffer(try finishMuxer(&buffer, pendingOutput: hello, into: &action))
                    return action
                }

            case .muxer:
                action.output.writeImmutableBuffer(try finishMuxer(&buffer, pendingOutput: ByteBuffer(), into: &action))
                return action
            }
        }
    }

    /// Runs the muxer negotiation on the Noise frames in `buffer` (all of it is taken); returns the sealed
    /// bytes to send (`pendingOutput` first) and sets `action.result` once a muxer is selected.
    private mutating func finishMuxer(_ buffer: inout ByteBuffer, pendingOutput: ByteBuffer, into action: inout Action) throws(Libp2pError) -> ByteBuffer {
        guard case .muxer(var muxer, let secured, var reader, var writer, var plain) = state else { return ByteBuffer() }
        state = .idle  // avoid copy-on-write of the buffers while they are mutated here
        reader.raw.append(adopting: &buffer)
        buffer = ByteBuffer()
        var replies = pendingOutput
        var more = try reader.decryptAvailable()
        plain.append(adopting: &more)
        let step = try muxer.receive(&plain)
        replies.writeImmutableBuffer(step.output)
        let sealed = replies.readableBytes > 0 ? try writer.seal(replies) : ByteBuffer()
        guard let selected = step.selected else {
            state = .muxer(muxer, secured, reader, writer, plain: plain)
            return sealed
        }
        state = .done
        action.result = ConnectionUpgrader.Result(remotePeer: secured.remotePeer, remoteKey: secured.remoteKey, reader: reader,
                                                  writer: writer, muxerProtocol: selected, leftover: plain)
        return sealed
    }
}
