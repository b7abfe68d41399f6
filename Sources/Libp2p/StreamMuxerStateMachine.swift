public import NIOCore

/// The operations a connection needs from a stream muxer (yamux or mplex), all without I/O.
public protocol StreamMuxerStateMachine: Sendable {
    /// Parses whole frames from `buffer` (leaving a partial frame), returning events and replies.
    ///
    /// - Throws: a ``Libp2pError`` when the remote broke the protocol; the connection must close.
    mutating func receive(_ buffer: inout ByteBuffer, now: NIODeadline) throws(Libp2pError) -> MuxerAction
    /// Opens a stream; returns its id and the frames announcing it.
    mutating func openStream() throws(Libp2pError) -> (MuxedStreamID, ByteBuffer)
    /// How many bytes may be sent on the stream now (`Int.max` without flow control, 0 if closed).
    func sendWindow(_ id: MuxedStreamID) -> Int
    /// Frames carrying as much of `data` as the send window allows; the rest stays in `data`.
    mutating func send(_ id: MuxedStreamID, _ data: inout ByteBuffer) -> ByteBuffer
    /// The application read `bytes` from the stream; may return a window update.
    mutating func consumed(_ id: MuxedStreamID, bytes: Int, now: NIODeadline) -> ByteBuffer
    /// Half-closes our side of the stream.
    mutating func closeWrite(_ id: MuxedStreamID) -> ByteBuffer
    /// Resets the stream.
    mutating func reset(_ id: MuxedStreamID) -> ByteBuffer
    /// Frames that end the session gracefully (empty if the muxer has none).
    mutating func goAway(code: UInt32) -> ByteBuffer
    /// A ping frame with `opaque`, or `nil` if the muxer has no ping.
    mutating func ping(opaque: UInt32) -> ByteBuffer?
}
