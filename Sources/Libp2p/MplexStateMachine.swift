public import NIOCore

/// mplex `/mplex/6.7.0` as a state machine with no I/O.
///
/// A frame is `uvarint(id << 3 | flag)`, `uvarint(length)`, data. A stream is identified by its
/// number and which side opened it. mplex has no flow control: ``sendWindow(_:)`` is unbounded.
public struct MplexStateMachine: StreamMuxerStateMachine {
    /// Frame flags.
    public enum Flag: UInt64, Sendable {
        /// Open a stream (data is its name).
        case newStream = 0
        /// Data from the side that did not open the stream.
        case messageReceiver = 1
        /// Data from the opener.
        case messageInitiator = 2
        /// Half-close by the non-opener.
        case closeReceiver = 3
        /// Half-close by the opener.
        case closeInitiator = 4
        /// Reset by the non-opener.
        case resetReceiver = 5
        /// Reset by the opener.
        case resetInitiator = 6
    }

    /// Largest message accepted or sent (1 MiB, as the spec recommends).
    public static let maxMessageSize = 1 << 20

    struct StreamState: Sendable {
        var localClosed = false
        var remoteClosed = false
    }

    private var nextStreamNumber: UInt64 = 0
    private var streams: [MuxedStreamID: StreamState] = [:]
    private let maxStreams: Int
    private var closing = false

    /// A muxer allowing at most `maxStreams` open streams.
    public init(maxStreams: Int = 4096) {
        self.maxStreams = maxStreams
    }

    /// Number of streams currently tracked.
    public var streamCount: Int { streams.count }

    static func writeFrame(_ number: UInt64, _ flag: Flag, _ data: ByteBuffer?, into out: inout ByteBuffer) {
        UVarint.write(number << 3 | flag.rawValue, into: &out)
        UVarint.write(UInt64(data?.readableBytes ?? 0), into: &out)
        if var data { out.writeBuffer(&data) }
    }

    public mutating func openStream() throws(Libp2pError) -> (MuxedStreamID, ByteBuffer) {
        guard !closing else { throw Libp2pError(.closed, "mplex session is closing") }
        guard streams.count < maxStreams else { throw Libp2pError(.limitReached, "mplex stream limit \(maxStreams) reached") }
        let id = MuxedStreamID(number: nextStreamNumber, localInitiated: true)
        nextStreamNumber += 1
        streams[id] = StreamState()
        var out = ByteBuffer()
        Self.writeFrame(id.number, .newStream, ByteBuffer(string: String(id.number)), into: &out)
        return (id, out)
    }

    public func sendWindow(_ id: MuxedStreamID) -> Int {
        guard let s = streams[id], !s.localClosed else { return 0 }
        return Int.max
    }

    public mutating func send(_ id: MuxedStreamID, _ data: inout ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer()
        guard let s = streams[id], !s.localClosed else { return out }
        while data.readableBytes > 0 {
            let chunk = data.readSlice(length: min(data.readableBytes, Self.maxMessageSize))!
            Self.writeFrame(id.number, id.localInitiated ? .messageInitiator : .messageReceiver, chunk, into: &out)
        }
        return out
    }

    public mutating func consumed(_ id: MuxedStreamID, bytes: Int, now: NIODeadline) -> ByteBuffer { ByteBuffer() }

    public mutating func closeWrite(_ id: MuxedStreamID) -> ByteBuffer {
        var out = ByteBuffer()
        guard var s = streams[id], !s.localClosed else { return out }
        s.localClosed = true
        Self.writeFrame(id.number, id.localInitiated ? .closeInitiator : .closeReceiver, nil, into: &out)
        streams[id] = s.remoteClosed ? nil : s
        return out
    }

    public mutating func reset(_ id: MuxedStreamID) -> ByteBuffer {
        var out = ByteBuffer()
        guard streams.removeValue(forKey: id) != nil else { return out }
        Self.writeFrame(id.number, id.localInitiated ? .resetInitiator : .resetReceiver, nil, into: &out)
        return out
    }

    public mutating func goAway(code: UInt32) -> ByteBuffer {
        closing = true
        return ByteBuffer()
    }

    public mutating func ping(opaque: UInt32) -> ByteBuffer? { nil }

    public mutating func receive(_ buffer: inout ByteBuffer, now: NIODeadline) throws(Libp2pError) -> MuxerAction {
        var action = MuxerAction()
        while true {
            var peek = buffer
            guard let header = try UVarint.read(from: &peek), let length = try UVarint.read(from: &peek) else { break }
            guard length <= UInt64(Self.maxMessageSize) else {
                throw Libp2pError(.messageTooLarge, "mplex frame of \(length) bytes exceeds \(Self.maxMessageSize)")
            }
            guard let payload = peek.readSlice(length: Int(length)) else { break }
            buffer = peek
            guard let flag = Flag(rawValue: header & 7) else {
                throw Libp2pError(.protocolViolation, "unknown mplex flag \(header & 7)")
            }
            let number = header >> 3
            // Flags name the sender's role: "initiator" frames come from the stream's opener.
            let fromOpener = flag == .newStream || flag == .messageInitiator || flag == .closeInitiator || flag == .resetInitiator
            let id = MuxedStreamID(number: number, localInitiated: !fromOpener)
            switch flag {
            case .newStream:
                guard streams[id] == nil else { throw Libp2pError(.protocolViolation, "mplex stream \(number) opened twice") }
                if closing || streams.count >= maxStreams {
                    Self.writeFrame(number, .resetReceiver, nil, into: &action.output)
                    continue
                }
                streams[id] = StreamState()
                action.events.append(.streamOpened(id))
            case .messageInitiator, .messageReceiver:
                guard let s = streams[id] else { continue }
                guard !s.remoteClosed else { throw Libp2pError(.protocolViolation, "mplex data after close on stream \(id)") }
                if payload.readableBytes > 0 { action.events.append(.data(id, ByteBufferBox(payload))) }
            case .closeInitiator, .closeReceiver:
                guard var s = streams[id], !s.remoteClosed else { continue }
                s.remoteClosed = true
                streams[id] = s.localClosed ? nil : s
                action.events.append(.remoteClosedWrite(id))
            case .resetInitiator, .resetReceiver:
                guard streams.removeValue(forKey: id) != nil else { continue }
                action.events.append(.streamReset(id))
            }
        }
        return action
    }
}
