public import NIOCore

/// Identifies a stream within one muxed connection: its number and which side opened it.
///
/// yamux derives the opener from the number's parity; mplex numbers each side's streams separately.
public struct MuxedStreamID: Hashable, Sendable, CustomStringConvertible {
    /// The stream number on the wire.
    public var number: UInt64
    /// Whether this side opened the stream.
    public var localInitiated: Bool

    /// Creates an id.
    public init(number: UInt64, localInitiated: Bool) {
        self.number = number
        self.localInitiated = localInitiated
    }

    /// `#number(local|remote)`.
    public var description: String { "#\(number)(\(localInitiated ? "local" : "remote"))" }
}

/// Something a muxer state machine reports after reading frames.
public enum MuxerEvent: Sendable, Equatable {
    /// The remote opened a stream.
    case streamOpened(MuxedStreamID)
    /// Bytes for a stream.
    case data(MuxedStreamID, ByteBufferBox)
    /// The remote will send no more on this stream (half-close).
    case remoteClosedWrite(MuxedStreamID)
    /// The stream was reset by the remote.
    case streamReset(MuxedStreamID)
    /// More send window on a stream; blocked writers may continue.
    case sendWindowOpened(MuxedStreamID)
    /// The reply to a ping we sent, with its opaque value.
    case pong(UInt32)
    /// The remote will accept no new streams (error code as sent).
    case goAway(UInt32)
}

/// What to do after feeding bytes to a muxer: events to dispatch and bytes to send.
public struct MuxerAction: Sendable {
    /// Events in wire order.
    public var events: [MuxerEvent] = []
    /// Frames to send to the remote (possibly empty).
    public var output = ByteBuffer()
}

/// An `Equatable` wrapper so events carrying bytes can be compared in tests.
public struct ByteBufferBox: Sendable, Equatable {
    /// The bytes.
    public var buffer: ByteBuffer
    /// Wraps a buffer.
    public init(_ buffer: ByteBuffer) { self.buffer = buffer }
}
