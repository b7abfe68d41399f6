import NIOCore
import Logging

extension Connection {
    /// Opens a stream and negotiates the first of `protocols` the remote supports.
    ///
    /// The whole exchange runs on the connection's event loop, so the caller pays one hop in and one out.
    ///
    /// - Throws: ``Libp2pError/Code/protocolNegotiationFailed`` if the remote supports none,
    ///   ``Libp2pError/Code/timeout`` if it does not answer within `timeout`.
    func openStream(negotiating protocols: [String], timeout: Duration) async throws -> P2PStream {
        var stream = try openRawStream()
        stream.protocolID = try await negotiate(stream.id, MultistreamStateMachine(dialerProposing: protocols), timeout: timeout)
        return stream
    }

    /// Opens a stream proposing `protocolID` and returns it at once, as go-libp2p does for a single
    /// protocol: the caller's first bytes follow the proposal without waiting for the answer (in the
    /// next Noise frame: the proposal is flushed before they reach the connection), and the answer is
    /// checked when it arrives, before the reader sees anything. A refusal fails the stream's next read (and later writes)
    /// with ``Libp2pError/Code/protocolNegotiationFailed``; no answer within `timeout`, with
    /// ``Libp2pError/Code/timeout``.
    func openStream(proposing protocolID: String, timeout: Duration) async throws -> P2PStream {
        var stream = try openRawStream()
        var machine = MultistreamStateMachine(dialerProposing: [protocolID])
        try await queue(stream.id, machine.start())
        awaitSelection(stream.id, machine, timeout: timeout)
        stream.protocolID = protocolID
        return stream
    }

    /// Negotiates the protocol of a stream the remote opened, then hands it to the inbound handler.
    func acceptStream(_ id: MuxedStreamID) async {
        let machine = MultistreamStateMachine(listenerSupporting: supportedProtocols())
        do {
            let selected = try await negotiate(id, machine, timeout: negotiationTimeout)
            inboundHandler?(P2PStream(connection: self, id: id, protocolID: selected))
        } catch {
            logger.debug("inbound stream \(id) failed negotiation: \(error)")
        }
    }

    /// Reads stream `id` until the remote closes it, failing beyond `limit` bytes or after `timeout`.
    ///
    /// The reads run on the connection's event loop (one hop for the caller, none per chunk).
    func readToEnd(_ id: MuxedStreamID, limit: Int, timeout: Duration) async throws -> ByteBuffer {
        let timer = tcp.channel.eventLoop.scheduleTask(in: Host.timeAmount(timeout)) { [self] in
            self.assumeIsolated { $0.fail(id, Libp2pError(.timeout, "reading stream \(id) timed out after \(timeout)")) }
        }
        defer { timer.cancel() }
        var out = ByteBuffer()
        while var chunk = try await read(id) {
            guard out.readableBytes + chunk.readableBytes <= limit else {
                reset(id)
                throw Libp2pError(.messageTooLarge, "stream sent more than \(limit) bytes")
            }
            out.append(adopting: &chunk)
        }
        return out
    }

    /// Runs multistream-select on stream `id`; bytes after the selection stay in the stream for its reader.
    /// The stream is reset if negotiation fails.
    func negotiate(_ id: MuxedStreamID, _ machine: MultistreamStateMachine, timeout: Duration) async throws -> String {
        var machine = machine
        let timer = tcp.channel.eventLoop.scheduleTask(in: Host.timeAmount(timeout)) { [self] in
            self.assumeIsolated { $0.fail(id, Libp2pError(.timeout, "protocol negotiation timed out after \(timeout)")) }
        }
        defer { timer.cancel() }
        do {
            try await queue(id, machine.start())
            var inbound = ByteBuffer()
            while true {
                let action = try machine.receive(&inbound)
                if action.output.readableBytes > 0 { try await queue(id, action.output) }
                if let selected = action.selected {
                    if inbound.readableBytes > 0 { unread(id, inbound) }
                    return selected
                }
                guard var more = try await read(id) else {
                    throw Libp2pError(.protocolNegotiationFailed, "stream closed during protocol negotiation")
                }
                inbound.append(adopting: &more)
            }
        } catch {
            reset(id)
            throw error
        }
    }
}
