import NIOCore

/// The whole connection upgrade as one state machine with no I/O: multistream-select for `/noise`,
/// the Noise XX handshake, then multistream-select for the muxer inside the secure channel.
///
/// Each side sends as early as the protocols allow, so the upgrade costs the fewest round trips:
/// the dialer pipelines its multistream header, the `/noise` proposal and Noise message 1; it
/// sends Noise message 3 together with its (encrypted) muxer proposal; the listener answers
/// message 1 in the same flight as its multistream reply, and its muxer header and selection in
/// one frame. Bytes that follow the muxer selection are handed over untouched in the result.
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
    private var state: State

    /// An upgrade for the dialling side (`isDialer`, checking `expectedPeer` if given) or the listening side.
    init(isDialer: Bool, handshake: NoiseHandshake, muxers: [String]) {
        precondition(!muxers.isEmpty, "at least one muxer must be offered")
        self.isDialer = isDialer
        self.muxers = muxers
        let security = isDialer
            ? MultistreamStateMachine(dialerProposing: [ConnectionUpgrader.noiseProtocol])
            : MultistreamStateMachine(listenerSupporting: [ConnectionUpgrader.noiseProtocol])
        state = .security(security, handshake)
    }

    /// An upgrade with a fresh Noise handshake for `identity`.
    init(isDialer: Bool, identity: PrivateKey, expectedPeer: PeerID?, muxers: [String]) {
        let handshake = NoiseHandshake(role: isDialer ? .initiator : .responder, identity: identity, expectedPeer: expectedPeer)
        self.init(isDialer: isDialer, handshake: handshake, muxers: muxers)
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
                let reader = NoiseTransportReader(cipher: secured.receiveCipher, raw: ByteBuffer())
                var writer = NoiseTransportWriter(cipher: secured.sendCipher)
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
