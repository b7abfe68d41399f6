public import NIOCore

/// A yamux frame header (12 bytes, big-endian) as in the yamux spec.
public struct YamuxFrame: Sendable, Equatable {
    /// Frame types.
    public enum FrameType: UInt8, Sendable {
        /// Stream data; `length` bytes follow.
        case data = 0
        /// Window update; `length` is the window delta.
        case windowUpdate = 1
        /// Ping; `length` is the opaque value.
        case ping = 2
        /// Session termination; `length` is the error code.
        case goAway = 3
    }

    /// Flag bits.
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt16
        /// Creates flags from raw bits.
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// Opens a stream (or a ping request).
        public static let syn = Flags(rawValue: 1)
        /// Acknowledges a stream (or answers a ping).
        public static let ack = Flags(rawValue: 2)
        /// Half-closes a stream.
        public static let fin = Flags(rawValue: 4)
        /// Resets a stream.
        public static let rst = Flags(rawValue: 8)
    }

    /// Header length in bytes.
    public static let headerLength = 12
    /// GoAway codes.
    public static let goAwayNormal: UInt32 = 0
    /// GoAway: protocol error.
    public static let goAwayProtocolError: UInt32 = 1
    /// GoAway: internal error.
    public static let goAwayInternalError: UInt32 = 2

    /// Frame type.
    public var type: FrameType
    /// Flags.
    public var flags: Flags
    /// Stream id (0 for session frames).
    public var streamID: UInt32
    /// Payload length, window delta, ping value or error code.
    public var length: UInt32

    /// Creates a header.
    public init(type: FrameType, flags: Flags, streamID: UInt32, length: UInt32) {
        self.type = type
        self.flags = flags
        self.streamID = streamID
        self.length = length
    }

    /// Writes the 12-byte header.
    public func write(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(type.rawValue)
        buffer.writeInteger(flags.rawValue)
        buffer.writeInteger(streamID)
        buffer.writeInteger(length)
    }

    /// Reads a header at the reader index without moving it, or `nil` if fewer than 12 bytes.
    ///
    /// - Throws: ``Libp2pError/Code/protocolViolation`` for a version other than 0 or an unknown type.
    public static func peek(_ buffer: ByteBuffer) throws(Libp2pError) -> YamuxFrame? {
        guard buffer.readableBytes >= headerLength else { return nil }
        let i = buffer.readerIndex
        let version = buffer.getInteger(at: i, as: UInt8.self)!
        guard version == 0 else { throw Libp2pError(.protocolViolation, "yamux version \(version) is not 0") }
        let rawType = buffer.getInteger(at: i + 1, as: UInt8.self)!
        guard let type = FrameType(rawValue: rawType) else { throw Libp2pError(.protocolViolation, "unknown yamux frame type \(rawType)") }
        return YamuxFrame(
            type: type,
            flags: Flags(rawValue: buffer.getInteger(at: i + 2, as: UInt16.self)!),
            streamID: buffer.getInteger(at: i + 4, as: UInt32.self)!,
            length: buffer.getInteger(at: i + 8, as: UInt32.self)!
        )
    }
}
