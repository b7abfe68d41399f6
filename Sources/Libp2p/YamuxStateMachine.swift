public import NIOCore

/// yamux `/yamux/1.0.0` as a state machine with no I/O and a clock passed in.
///
/// Flow control: each stream's receive window starts at 256 KiB; credit is returned as the
/// application reads (``consumed(_:bytes:now:)``), and the window doubles (up to 16 MiB) when the
/// reader uses a whole window within ``Configuration/windowGrowthInterval``. Inbound streams are
/// acknowledged at once with a separate `WINDOW_UPDATE|ACK` frame (never combined with FIN/RST).
///
/// ```swift
/// var mux = YamuxStateMachine(isClient: true)
/// let (id, open) = try mux.openStream()
/// var data = ByteBuffer(string: "hello")
/// let frames = mux.send(id, &data)
/// ```
public struct YamuxStateMachine: StreamMuxerStateMachine {
    /// Tunables.
    public struct Configuration: Sendable {
        /// Initial receive window per stream (the spec's 256 KiB).
        public var initialWindow: UInt32 = 256 * 1024
        /// Largest receive window a stream grows to.
        public var maxWindow: UInt32 = 16 * 1024 * 1024
        /// Window doubles when a full window is consumed faster than this.
        public var windowGrowthInterval: TimeAmount = .seconds(1)
        /// Largest data payload per frame we send.
        public var maxFramePayload: Int = 64 * 1024
        /// Most streams open at once (inbound beyond this are reset).
        public var maxStreams: Int = 4096
        /// Creates the defaults.
        public init() {}
    }

    struct StreamState: Sendable {
        var sendWindow: UInt32
        var receiveWindow: UInt32          // bytes the remote may still send
        var windowSize: UInt32             // current target window
        var unacknowledgedRead: UInt32 = 0 // consumed, not yet credited
        var lastUpdate: NIODeadline?
        var localClosed = false
        var remoteClosed = false
    }

    /// The configuration in use.
    public let configuration: Configuration
    private let isClient: Bool
    private var nextStreamID: UInt32
    private var streams: [UInt32: StreamState] = [:]
    private var remoteGoneAway = false
    private var localGoneAway = false

    /// A muxer for the dialling side (`isClient`, odd stream ids) or the listening side (even ids).
    public init(isClient: Bool, configuration: Configuration = .init()) {
        self.isClient = isClient
        self.configuration = configuration
        nextStreamID = isClient ? 1 : 2
    }

    /// Number of streams currently tracked.
    public var streamCount: Int { streams.count }

    /// Whether the remote sent GoAway.
    public var remoteWentAway: Bool { remoteGoneAway }

    private func id(_ n: UInt32) -> MuxedStreamID {
        MuxedStreamID(number: UInt64(n), localInitiated: (n % 2 == 1) == isClient)
    }

    private static func header(_ type: YamuxFrame.FrameType, _ flags: YamuxFrame.Flags, _ stream: UInt32, _ length: UInt32, into out: inout ByteBuffer) {
        YamuxFrame(type: type, flags: flags, streamID: stream, length: length).write(into: &out)
    }

    public mutating func openStream() throws(Libp2pError) -> (MuxedStreamID, ByteBuffer) {
        guard !remoteGoneAway, !localGoneAway else { throw Libp2pError(.closed, "yamux session is going away; open a new connection") }
        guard streams.count < configuration.maxStreams else {
            throw Libp2pError(.limitReached, "yamux stream limit \(configuration.maxStreams) reached")
        }
        guard nextStreamID < UInt32.max - 1 else { throw Libp2pError(.limitReached, "yamux stream ids exhausted; reconnect") }
        let n = nextStreamID
        nextStreamID += 2
        streams[n] = StreamState(sendWindow: configuration.initialWindow, receiveWindow: configuration.initialWindow,
                                 windowSize: configuration.initialWindow)
        var out = ByteBuffer()
        Self.header(.windowUpdate, .syn, n, 0, into: &out)
        return (id(n), out)
    }

    public func sendWindow(_ id: MuxedStreamID) -> Int {
        guard let s = streams[UInt32(id.number)], !s.localClosed else { return 0 }
        return Int(s.sendWindow)
    }

    public mutating func send(_ id: MuxedStreamID, _ data: inout ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer()
        let n = UInt32(id.number)
        guard var s = streams[n], !s.localClosed else { return out }
        let sending = min(data.readableBytes, Int(s.sendWindow))
        out.reserveCapacity(sending + (sending / configuration.maxFramePayload + 1) * YamuxFrame.headerLength)
        while data.readableBytes > 0 && s.sendWindow > 0 {
            let chunk = min(data.readableBytes, Int(s.sendWindow), configuration.maxFramePayload)
            Self.header(.data, [], n, UInt32(chunk), into: &out)
            var slice = data.readSlice(length: chunk)!
            out.writeBuffer(&slice)
            s.sendWindow -= UInt32(chunk)
        }
        streams[n] = s
        return out
    }

    public mutating func consumed(_ id: MuxedStreamID, bytes: Int, now: NIODeadline) -> ByteBuffer {
        var out = ByteBuffer()
        let n = UInt32(id.number)
        guard var s = streams[n], !s.remoteClosed, bytes > 0 else { return out }
        s.unacknowledgedRead += UInt32(clamping: bytes)
        // Credit back once half the window has been read, so the sender never stalls for long.
        if s.unacknowledgedRead >= s.windowSize / 2 {
            var delta = s.unacknowledgedRead
            if let last = s.lastUpdate, now - last < configuration.windowGrowthInterval, s.windowSize < configuration.maxWindow {
                let grown = min(configuration.maxWindow, s.windowSize * 2)
                delta += grown - s.windowSize
                s.windowSize = grown
            }
            s.lastUpdate = now
            s.receiveWindow += delta
            s.unacknowledgedRead = 0
            Self.header(.windowUpdate, [], n, delta, into: &out)
        }
        streams[n] = s
        return out
    }

    public mutating func closeWrite(_ id: MuxedStreamID) -> ByteBuffer {
        var out = ByteBuffer()
        let n = UInt32(id.number)
        guard var s = streams[n], !s.localClosed else { return out }
        s.localClosed = true
        Self.header(.windowUpdate, .fin, n, 0, into: &out)
        if s.remoteClosed { streams[n] = nil } else { streams[n] = s }
        return out
    }

    public mutating func reset(_ id: MuxedStreamID) -> ByteBuffer {
        var out = ByteBuffer()
        let n = UInt32(id.number)
        guard streams.removeValue(forKey: n) != nil else { return out }
        Self.header(.windowUpdate, .rst, n, 0, into: &out)
        return out
    }

    public mutating func goAway(code: UInt32) -> ByteBuffer {
        var out = ByteBuffer()
        guard !localGoneAway else { return out }
        localGoneAway = true
        Self.header(.goAway, [], 0, code, into: &out)
        return out
    }

    public mutating func ping(opaque: UInt32) -> ByteBuffer? {
        var out = ByteBuffer()
        Self.header(.ping, .syn, 0, opaque, into: &out)
        return out
    }

    public mutating func receive(_ buffer: inout ByteBuffer, now: NIODeadline) throws(Libp2pError) -> MuxerAction {
        var action = MuxerAction()
        while let frame = try YamuxFrame.peek(buffer) {
            if frame.type == .data {
                // A data frame larger than any window we could have granted is a protocol violation.
                guard frame.length <= configuration.maxWindow else {
                    throw Libp2pError(.messageTooLarge, "yamux data frame of \(frame.length) bytes exceeds the \(configuration.maxWindow)-byte window limit")
                }
                guard buffer.readableBytes >= YamuxFrame.headerLength + Int(frame.length) else { break }
            }
            buffer.moveReaderIndex(forwardBy: YamuxFrame.headerLength)
            switch frame.type {
            case .ping:
                if frame.flags.contains(.syn) {
                    Self.header(.ping, .ack, 0, frame.length, into: &action.output)
                } else if frame.flags.contains(.ack) {
                    action.events.append(.pong(frame.length))
                }
            case .goAway:
                remoteGoneAway = true
                action.events.append(.goAway(frame.length))
            case .data, .windowUpdate:
                let payload = frame.type == .data ? buffer.readSlice(length: Int(frame.length))! : nil
                try handleStreamFrame(frame, payload: payload, into: &action)
            }
        }
        return action
    }

    private mutating func handleStreamFrame(_ frame: YamuxFrame, payload: ByteBuffer?, into action: inout MuxerAction) throws(Libp2pError) {
        let n = frame.streamID
        guard n != 0 else { throw Libp2pError(.protocolViolation, "yamux stream frame on stream 0") }
        let sid = id(n)
        if frame.flags.contains(.syn) {
            guard streams[n] == nil, !sid.localInitiated else {
                throw Libp2pError(.protocolViolation, "yamux SYN for stream \(n) that exists or has our parity")
            }
            if localGoneAway || streams.count >= configuration.maxStreams {
                Self.header(.windowUpdate, .rst, n, 0, into: &action.output)
                return
            }
            streams[n] = StreamState(sendWindow: configuration.initialWindow, receiveWindow: configuration.initialWindow,
                                     windowSize: configuration.initialWindow)
            Self.header(.windowUpdate, .ack, n, 0, into: &action.output)
            action.events.append(.streamOpened(sid))
        }
        guard var s = streams[n] else {
            // Frames for streams we already forgot (reset or fully closed) are dropped.
            return
        }
        if frame.flags.contains(.rst) {
            streams[n] = nil
            action.events.append(.streamReset(sid))
            return
        }
        if frame.type == .windowUpdate, frame.length > 0 {
            let (sum, overflow) = s.sendWindow.addingReportingOverflow(frame.length)
            guard !overflow else { throw Libp2pError(.protocolViolation, "yamux window overflow on stream \(n)") }
            s.sendWindow = sum
            action.events.append(.sendWindowOpened(sid))
        }
        if let payload, payload.readableBytes > 0 {
            guard !s.remoteClosed else { throw Libp2pError(.protocolViolation, "yamux data after FIN on stream \(n)") }
            guard UInt32(payload.readableBytes) <= s.receiveWindow else {
                throw Libp2pError(.messageTooLarge, "yamux peer sent \(payload.readableBytes) bytes on stream \(n) with only \(s.receiveWindow) window left")
            }
            s.receiveWindow -= UInt32(payload.readableBytes)
            action.events.append(.data(sid, ByteBufferBox(payload)))
        }
        if frame.flags.contains(.fin) && !s.remoteClosed {
            s.remoteClosed = true
            action.events.append(.remoteClosedWrite(sid))
        }
        if s.remoteClosed && s.localClosed { streams[n] = nil } else { streams[n] = s }
    }
}
