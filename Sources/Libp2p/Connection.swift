public import NIOCore
import Logging
import Synchronization

/// An authenticated, multiplexed connection to one peer; streams are opened and served through it.
///
/// An actor on the socket's event loop runs the muxer state machine: ``ConnectionHandler`` feeds it
/// decrypted bytes in the same call that read them, stream reads and writes are its methods, and
/// frames leave in the order the actor produces them. Only the application's own calls hop threads.
public actor Connection {
    /// Negotiates the protocol of each stream the remote opens; `nil` for protocols we do not serve.
    typealias ProtocolList = @Sendable () -> [String]

    /// Which side dialled.
    public enum Direction: Sendable { case inbound, outbound }

    struct StreamBuffer {
        var inbound = ByteBuffer()
        var remoteClosed = false
        var localClosed = false
        var reset = false
        /// Why reads and writes fail now (a negotiation that timed out).
        var failure: Libp2pError?
        var readers: [CheckedContinuation<Void, Never>] = []
        var writers: [CheckedContinuation<Void, Never>] = []
        /// A protocol proposed without waiting for the answer (``Connection/openStream(proposing:timeout:)``):
        /// the answer is read off the front of `inbound` before the stream's reader sees any of it.
        var unconfirmed: UnconfirmedSelection?
    }

    /// A protocol proposed without waiting, still waiting for the remote's answer.
    struct UnconfirmedSelection {
        var machine: MultistreamStateMachine
        /// Fails the stream if the answer takes longer than the negotiation timeout.
        var timer: Scheduled<Void>
    }

    /// The remote peer's verified id.
    public nonisolated let remotePeer: PeerID
    /// The remote peer's identity key.
    public nonisolated let remoteKey: PublicKey
    /// The remote socket address.
    public nonisolated let remoteAddress: Multiaddr?
    /// Our socket address.
    public nonisolated let localAddress: Multiaddr?
    /// Who dialled.
    public nonisolated let direction: Direction
    /// `/yamux/1.0.0` or `/mplex/6.7.0`.
    public nonisolated let muxerProtocol: String
    /// Whether both sides offered their muxers in the Noise handshake and agreed there (a round trip
    /// sooner) rather than by multistream-select after it.
    public nonisolated let muxerAgreedInHandshake: Bool

    let tcp: TCPConnection
    private var muxer: any StreamMuxerStateMachine
    private var writer: NoiseTransportWriter
    /// Frames produced in this event-loop tick, sealed and written together when it ends.
    private var outbox = ByteBuffer()
    private var outboxFlushed: EventLoopPromise<Void>?
    private var pendingInput: ByteBuffer
    private var streams: [MuxedStreamID: StreamBuffer] = [:]
    private var closedError: Libp2pError?
    private var pings: [UInt32: CheckedContinuation<Void, Never>] = [:]
    private var nextPing: UInt32 = 1
    /// The keep-alive timer, and the opaque value of its ping still waiting for an answer.
    private var keepAlive: RepeatedTask?
    private var keepAlivePing: UInt32?
    private(set) var inboundHandler: (@Sendable (P2PStream) -> Void)?
    private(set) var supportedProtocols: ProtocolList = { [] }
    private(set) var negotiationTimeout: Duration = .seconds(10)
    private let closed = Mutex(false)
    private var closeHandlers: [@Sendable (Libp2pError?) -> Void] = []
    let logger: Logger
    private(set) var lastActivity: NIODeadline = .now()

    init(tcp: TCPConnection, upgraded: ConnectionUpgrader.Result, direction: Direction, muxer: any StreamMuxerStateMachine, logger: Logger) {
        self.tcp = tcp
        remotePeer = upgraded.remotePeer
        remoteKey = upgraded.remoteKey
        remoteAddress = tcp.remoteAddress
        localAddress = tcp.localAddress
        self.direction = direction
        muxerProtocol = upgraded.muxerProtocol
        muxerAgreedInHandshake = upgraded.muxerAgreedInHandshake
        self.muxer = muxer
        writer = upgraded.writer
        pendingInput = upgraded.leftover
        var l = logger
        l[metadataKey: "peer"] = "\(upgraded.remotePeer)"
        self.logger = l
    }

    /// Runs the connection's actor on its socket's event loop, where ``ConnectionHandler`` feeds it:
    /// socket reads, the muxer and socket writes then share one thread with no hops between them.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        tcp.channel.eventLoop.executor.asUnownedSerialExecutor()
    }

    /// Starts reading; `onStream` receives the streams the remote opens once their protocol (one of
    /// `protocols()`) is negotiated, `onClose` the reason the connection ended. With `keepAlive`, a yamux
    /// ping goes out every `interval` (see ``startKeepAlive(interval:timeout:)``).
    func start(protocols: @escaping ProtocolList, negotiationTimeout: Duration, keepAlive: (interval: Duration, timeout: Duration)? = nil,
               onStream: @escaping @Sendable (P2PStream) -> Void, onClose: @escaping @Sendable (Libp2pError?) -> Void) {
        if let keepAlive { startKeepAlive(interval: keepAlive.interval, timeout: keepAlive.timeout) }
        supportedProtocols = protocols
        self.negotiationTimeout = negotiationTimeout
        inboundHandler = onStream
        closeHandlers.append(onClose)
        guard let handler = try? tcp.channel.pipeline.syncOperations.handler(type: ConnectionHandler.self) else {
            shutdown(Libp2pError(.closed, "the connection closed before it was registered"), graceful: false)
            return
        }
        handler.attach(self)
    }

    /// Whether the connection has ended.
    public nonisolated var isClosed: Bool { closed.withLock { $0 } }

    /// Number of open streams.
    public var streamCount: Int { streams.count }

    /// Queues muxer frames; everything queued before the event loop's next task leaves in one Noise
    /// frame (or as few as fit) and one socket write, e.g. a stream's SYN with its protocol proposal, or an
    /// ACK with the multistream answer. Completes when the bytes are written.
    private func send(_ frames: ByteBuffer) -> EventLoopFuture<Void>? {
        guard frames.readableBytes > 0 else { return nil }
        var frames = frames
        outbox.append(adopting: &frames)
        if let outboxFlushed { return outboxFlushed.futureResult }
        let promise = tcp.channel.eventLoop.makePromise(of: Void.self)
        outboxFlushed = promise
        tcp.channel.eventLoop.execute { self.assumeIsolated { $0.flushOutbox() } }
        return promise.futureResult
    }

    /// Seals and writes the queued frames.
    private func flushOutbox() {
        guard let promise = outboxFlushed else { return }
        outboxFlushed = nil
        let frames = outbox
        outbox = ByteBuffer()
        do {
            tcp.write(try writer.seal(frames)).cascade(to: promise)
        } catch {
            promise.fail(error)
            shutdown(error, graceful: false)
        }
    }

    /// Feeds decrypted bytes to the muxer; a protocol violation ends the connection.
    func ingest(_ bytes: ByteBuffer) {
        do {
            try ingestFrames(bytes)
        } catch {
            shutdown(error as? Libp2pError ?? Libp2pError(.transport, "connection failed", cause: error), graceful: false)
        }
    }

    private func ingestFrames(_ bytes: ByteBuffer) throws {
        guard closedError == nil else { return }
        var bytes = bytes
        pendingInput.append(adopting: &bytes)
        let action: MuxerAction
        do {
            action = try muxer.receive(&pendingInput, now: .now())
        } catch {
            logger.warning("closing connection: \(error)")
            _ = send(muxer.goAway(code: YamuxFrame.goAwayProtocolError))
            throw error
        }
        // Frame payloads are slices of this buffer: keep only the partial frame.
        pendingInput.discardConsumedBytes()
        lastActivity = .now()
        // Events first: a stream they open starts negotiating in a task queued ahead of the flush, so its
        // answer joins these frames (the ACK still goes first) in one write.
        for event in action.events { handle(event) }
        _ = send(action.output)
    }

    private func handle(_ event: MuxerEvent) {
        switch event {
        case .streamOpened(let id):
            streams[id] = StreamBuffer()
            // Runs on this actor: the negotiation's reads and writes need no hop.
            Task { await self.acceptStream(id) }
        case .data(let id, var box):
            guard streams[id] != nil else { return }
            streams[id]!.inbound.append(adopting: &box.buffer)
            if streams[id]!.unconfirmed != nil { confirmSelection(id) }
            wakeReaders(id)
        case .remoteClosedWrite(let id):
            guard var s = streams[id] else { return }
            s.remoteClosed = true
            if s.localClosed && s.inbound.readableBytes == 0 && s.readers.isEmpty {
                // Both sides done and nothing left to read: forget the stream.
                forget(id)
            } else {
                streams[id] = s
                wakeReaders(id)
            }
        case .streamReset(let id):
            streams[id]?.reset = true
            wakeReaders(id)
            wakeWriters(id)
        case .sendWindowOpened(let id):
            wakeWriters(id)
        case .pong(let opaque):
            if keepAlivePing == opaque { keepAlivePing = nil }
            pings.removeValue(forKey: opaque)?.resume()
        case .goAway(let code):
            logger.debug("remote sent GoAway \(code)")
        }
    }

    /// Streams that ended cleanly and were forgotten: reading one gives end-of-stream, not an error.
    private var finished: Set<MuxedStreamID> = []

    private func forget(_ id: MuxedStreamID) {
        streams[id] = nil
        if finished.count >= 8192 { finished.removeAll(keepingCapacity: true) }
        finished.insert(id)
    }

    /// Fails stream `id` with `error`: waiting and later reads and writes throw it.
    func fail(_ id: MuxedStreamID, _ error: Libp2pError) {
        guard streams[id] != nil else { return }
        streams[id]!.failure = error
        wakeReaders(id)
        wakeWriters(id)
    }

    private func wakeReaders(_ id: MuxedStreamID) {
        guard let waiting = streams[id]?.readers, !waiting.isEmpty else { return }
        streams[id]!.readers = []
        for c in waiting { c.resume() }
    }

    private func wakeWriters(_ id: MuxedStreamID) {
        guard let waiting = streams[id]?.writers, !waiting.isEmpty else { return }
        streams[id]!.writers = []
        for c in waiting { c.resume() }
    }

    /// Watches for the answer to a protocol proposed on stream `id` without waiting (`machine` has sent it).
    func awaitSelection(_ id: MuxedStreamID, _ machine: MultistreamStateMachine, timeout: Duration) {
        guard streams[id] != nil else { return }
        let timer = tcp.channel.eventLoop.scheduleTask(in: Host.timeAmount(timeout)) { [self] in
            self.assumeIsolated { $0.refuseSelection(id, Libp2pError(.timeout, "protocol negotiation timed out after \(timeout)")) }
        }
        streams[id]!.unconfirmed = UnconfirmedSelection(machine: machine, timer: timer)
        confirmSelection(id)
    }

    /// Reads the answer to a protocol proposed without waiting off the front of the stream's buffer, once it is all there.
    private func confirmSelection(_ id: MuxedStreamID) {
        guard var s = streams[id], var pending = s.unconfirmed else { return }
        do throws(Libp2pError) {
            let action = try pending.machine.receive(&s.inbound)
            s.unconfirmed = action.selected == nil ? pending : nil
            streams[id] = s
            if action.selected != nil { pending.timer.cancel() }
        } catch {
            refuseSelection(id, error)
        }
    }

    /// Fails a stream whose protocol was refused (or not answered) and resets it; its reads and writes
    /// throw `error` from now on.
    private func refuseSelection(_ id: MuxedStreamID, _ error: Libp2pError) {
        guard var s = streams[id], let pending = s.unconfirmed else { return }
        pending.timer.cancel()
        s.unconfirmed = nil
        s.inbound = ByteBuffer()
        s.failure = error
        s.reset = true  // on the wire; the entry stays so that reads and writes throw `error`
        streams[id] = s
        _ = send(muxer.reset(id))
        wakeReaders(id)
        wakeWriters(id)
    }

    /// Opens a raw muxed stream (no protocol negotiated yet).
    func openRawStream() throws -> P2PStream {
        if let closedError { throw closedError }
        let (id, frames) = try muxer.openStream()
        streams[id] = StreamBuffer()
        _ = send(frames)
        lastActivity = .now()
        return P2PStream(connection: self, id: id, protocolID: nil)
    }

    func read(_ id: MuxedStreamID) async throws -> ByteBuffer? {
        while true {
            guard var s = streams[id] else {
                if finished.contains(id) { return nil }
                throw Libp2pError(.closed, "stream \(id) is closed")
            }
            if let failure = s.failure { throw failure }
            if s.unconfirmed != nil {
                // The remote has not answered the proposal yet; what it sent so far is the answer's start.
                if s.reset || s.remoteClosed || closedError != nil {
                    throw Libp2pError(.protocolNegotiationFailed, "stream \(id) closed during protocol negotiation")
                }
                await withCheckedContinuation { streams[id]!.readers.append($0) }
                continue
            }
            if s.inbound.readableBytes > 0 {
                let out = s.inbound
                s.inbound = ByteBuffer()
                streams[id] = s
                _ = send(muxer.consumed(id, bytes: out.readableBytes, now: .now()))
                return out
            }
            if s.reset { throw Libp2pError(.reset, "stream \(id) was reset") }
            if s.remoteClosed {
                if s.localClosed { forget(id) }
                return nil
            }
            if let closedError { throw closedError }
            await withCheckedContinuation { streams[id]!.readers.append($0) }
        }
    }

    func unread(_ id: MuxedStreamID, _ bytes: ByteBuffer) {
        guard var s = streams[id], bytes.readableBytes > 0 else { return }
        var combined = bytes
        combined.writeBuffer(&s.inbound)
        s.inbound = combined
        streams[id] = s
    }

    /// Sends `data` on stream `id`; with `thenClose`, the FIN follows in the same Noise frame and socket
    /// write as the last bytes (a response and its end cost one frame, not two).
    func write(_ id: MuxedStreamID, _ data: ByteBuffer, thenClose: Bool = false) async throws {
        var data = data
        var last: EventLoopFuture<Void>?
        while data.readableBytes > 0 {
            if let closedError { throw closedError }
            guard let s = streams[id] else { throw Libp2pError(.closed, "stream \(id) is closed") }
            if let failure = s.failure { throw failure }
            if s.reset { throw Libp2pError(.reset, "stream \(id) was reset by the remote") }
            if s.localClosed { throw Libp2pError(.closed, "stream \(id) was closed for writing") }
            if muxer.sendWindow(id) == 0 {
                await withCheckedContinuation { streams[id]!.writers.append($0) }
                continue
            }
            last = send(muxer.send(id, &data)) ?? last
            lastActivity = .now()
        }
        if thenClose {
            // Queued before the outbox is flushed, so it leaves with the data.
            closeWrite(id)
        }
        // Waiting for the socket write gives backpressure to fast writers (and to mplex, which has no windows).
        try await last?.get()
    }

    /// Queues a short message on stream `id` without waiting for the socket, so that it leaves with
    /// whatever else this tick produces; waits like ``write(_:_:)`` only if the send window is short.
    func queue(_ id: MuxedStreamID, _ data: ByteBuffer) async throws {
        guard closedError == nil, let s = streams[id], s.failure == nil, !s.reset, !s.localClosed,
              muxer.sendWindow(id) >= data.readableBytes else {
            try await write(id, data)
            return
        }
        var data = data
        _ = send(muxer.send(id, &data))
        lastActivity = .now()
    }

    func closeWrite(_ id: MuxedStreamID) {
        guard var s = streams[id], !s.localClosed else { return }
        s.localClosed = true
        _ = send(muxer.closeWrite(id))
        if s.reset {
            streams[id] = nil
        } else if s.remoteClosed && s.inbound.readableBytes == 0 && s.readers.isEmpty {
            forget(id)
        } else {
            streams[id] = s
        }
    }

    func reset(_ id: MuxedStreamID) {
        guard var s = streams.removeValue(forKey: id) else { return }
        _ = send(muxer.reset(id))
        s.reset = true
        for c in s.readers + s.writers { c.resume() }
    }

    /// Sends a yamux ping and waits for the answer; returns the round-trip time.
    ///
    /// - Throws: ``Libp2pError/Code/protocolNegotiationFailed`` on mplex, which has no ping.
    public func muxerPing() async throws -> Duration {
        if let closedError { throw closedError }
        let opaque = nextPing
        nextPing &+= 1
        guard let frame = muxer.ping(opaque: opaque) else {
            throw Libp2pError(.protocolNegotiationFailed, "\(muxerProtocol) has no ping; use the ping protocol")
        }
        let start = ContinuousClock.now
        _ = send(frame)
        await withCheckedContinuation { pings[opaque] = $0 }
        if let closedError { throw closedError }
        return ContinuousClock.now - start
    }

    /// Pings the remote (yamux only) every `interval`; closes the connection if an answer takes longer than `timeout`.
    ///
    /// Timers on the connection's own event loop, cancelled when it closes: no task sleeps per connection
    /// (a `Task.sleep` arms a Dispatch timer and would outlive the connection by up to `interval`).
    func startKeepAlive(interval: Duration, timeout: Duration) {
        guard muxerProtocol == ConnectionUpgrader.yamuxProtocol, closedError == nil, keepAlive == nil else { return }  // mplex has no ping frame
        let every = Host.timeAmount(interval)
        keepAlive = tcp.channel.eventLoop.scheduleRepeatedTask(initialDelay: every, delay: every) { [weak self] _ in
            self?.assumeIsolated { $0.sendKeepAlivePing(timeout: timeout) }
        }
    }

    private func sendKeepAlivePing(timeout: Duration) {
        // One outstanding at a time: its own deadline closes the connection if it stays unanswered.
        guard closedError == nil, keepAlivePing == nil else { return }
        let opaque = nextPing
        nextPing &+= 1
        guard let frame = muxer.ping(opaque: opaque) else { return }
        keepAlivePing = opaque
        _ = send(frame)
        tcp.channel.eventLoop.scheduleTask(in: Host.timeAmount(timeout)) { [weak self] in
            self?.assumeIsolated { connection in
                guard connection.keepAlivePing == opaque else { return }
                connection.shutdown(Libp2pError(.timeout, "keep-alive ping unanswered for \(timeout)"), graceful: false)
            }
        }
    }

    /// Registers a closure run once when the connection ends.
    func onClose(_ handler: @escaping @Sendable (Libp2pError?) -> Void) {
        if let closedError { handler(closedError); return }
        closeHandlers.append(handler)
    }

    /// Closes the connection (GoAway on yamux, then the socket).
    public func close() async {
        shutdown(nil, graceful: true)
    }

    func shutdown(_ reason: Libp2pError?, graceful: Bool) {
        guard closedError == nil else { return }
        closedError = reason ?? Libp2pError(.closed, "connection closed locally")
        closed.withLock { $0 = true }
        keepAlive?.cancel()
        keepAlive = nil
        if let reason, reason.code != .closed {
            logger.info("connection closed: \(reason)")
        } else {
            logger.debug("connection closed")
        }
        if graceful {
            // Close streams with FIN rather than GoAway: py-libp2p tears the session down on any GoAway.
            let ids = Array(streams.keys)
            for id in ids {
                _ = send(muxer.closeWrite(id))
            }
            // Close once the FINs are flushed, but never wait on a peer that stopped reading.
            flushOutbox()
            let tcp = self.tcp
            tcp.write(ByteBuffer()).whenComplete { _ in tcp.close() }
            tcp.channel.eventLoop.scheduleTask(in: .seconds(1)) { tcp.close() }
        } else {
            flushOutbox()  // a GoAway explaining the close, if one is queued
            tcp.close()
        }
        for (id, _) in streams {
            streams[id]!.reset = true
            wakeReaders(id)
            wakeWriters(id)
        }
        for (_, c) in pings { c.resume() }
        pings = [:]
        let handlers = closeHandlers
        closeHandlers = []
        inboundHandler = nil
        for h in handlers { h(reason) }
    }
}
