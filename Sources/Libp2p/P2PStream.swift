public import NIOCore

/// A bidirectional stream to a peer over a muxed connection, with an async read/write API.
///
/// ```swift
/// let stream = try await host.newStream(to: peer, protocols: ["/echo/1.0.0"])
/// try await stream.write(ByteBuffer(string: "hi"))
/// try await stream.closeWrite()
/// while let chunk = try await stream.read() { ... }
/// ```
public struct P2PStream: Sendable {
    /// The connection the stream runs on.
    public let connection: Connection
    /// The stream's id within the connection.
    public let id: MuxedStreamID
    /// The negotiated protocol (nil before negotiation).
    public internal(set) var protocolID: String?

    /// The remote peer.
    public var remotePeer: PeerID { connection.remotePeer }

    /// The next received bytes, or `nil` once the remote closed its side.
    ///
    /// - Throws: ``Libp2pError/Code/reset`` if the stream was reset, ``Libp2pError/Code/closed`` if the connection ended.
    public func read() async throws -> ByteBuffer? {
        try await connection.read(id)
    }

    /// Sends `buffer`, waiting while the remote's window is full.
    public func write(_ buffer: ByteBuffer) async throws {
        try await connection.write(id, buffer)
    }

    /// Sends `bytes`.
    public func write(_ bytes: [UInt8]) async throws {
        try await connection.write(id, ByteBuffer(bytes: bytes))
    }

    /// Sends `buffer`, then half-closes: the end of our side leaves in the same frame as the last bytes
    /// (one Noise frame and one socket write for a whole request or response, where
    /// `write` + `closeWrite` cost two).
    public func writeAndClose(_ buffer: ByteBuffer) async throws {
        try await connection.write(id, buffer, thenClose: true)
    }

    /// Half-closes: we send no more, but can still read.
    public func closeWrite() async {
        await connection.closeWrite(id)
    }

    /// Aborts the stream in both directions.
    public func reset() async {
        await connection.reset(id)
    }

    /// Puts bytes back to be returned by the next ``read()``.
    func unread(_ bytes: ByteBuffer) async {
        await connection.unread(id, bytes)
    }

    /// Reads exactly `count` bytes.
    ///
    /// - Throws: ``Libp2pError/Code/closed`` if the stream ends first.
    public func read(exactly count: Int) async throws -> ByteBuffer {
        var out = ByteBuffer()
        while out.readableBytes < count {
            guard var chunk = try await read() else {
                throw Libp2pError(.closed, "stream ended after \(out.readableBytes) of \(count) bytes")
            }
            let need = count - out.readableBytes
            if chunk.readableBytes > need {
                var rest = chunk
                rest.moveReaderIndex(forwardBy: need)
                chunk = chunk.getSlice(at: chunk.readerIndex, length: need)!
                await unread(rest)
            }
            out.writeBuffer(&chunk)
        }
        return out
    }

    /// Reads until the remote closes, failing beyond `limit` bytes.
    public func readToEnd(limit: Int) async throws -> ByteBuffer {
        var out = ByteBuffer()
        while var chunk = try await read() {
            guard out.readableBytes + chunk.readableBytes <= limit else {
                await reset()
                throw Libp2pError(.messageTooLarge, "stream sent more than \(limit) bytes")
            }
            out.writeBuffer(&chunk)
        }
        return out
    }

    /// Reads one uvarint-length-prefixed message of at most `maxLength` bytes; `nil` at a clean end.
    public func readLengthPrefixed(maxLength: Int) async throws -> [UInt8]? {
        var buffer = ByteBuffer()
        var length: UInt64?
        while length == nil {
            length = try UVarint.read(from: &buffer)
            if length != nil { break }
            guard var chunk = try await read() else {
                if buffer.readableBytes == 0 { return nil }
                throw Libp2pError(.closed, "stream ended inside a length prefix")
            }
            buffer.writeBuffer(&chunk)
        }
        guard let length, length <= UInt64(maxLength) else {
            await reset()
            throw Libp2pError(.messageTooLarge, "message of \(length ?? 0) bytes exceeds the \(maxLength)-byte limit")
        }
        if buffer.readableBytes > Int(length) {
            let rest = buffer.getSlice(at: buffer.readerIndex + Int(length), length: buffer.readableBytes - Int(length))!
            await unread(rest)
            return buffer.getBytes(at: buffer.readerIndex, length: Int(length))
        }
        var body = buffer
        if body.readableBytes < Int(length) {
            var more = try await read(exactly: Int(length) - body.readableBytes)
            body.writeBuffer(&more)
        }
        return body.readBytes(length: Int(length))
    }

    /// Writes one uvarint-length-prefixed message.
    public func writeLengthPrefixed(_ message: [UInt8]) async throws {
        try await write(Self.lengthPrefixed(message))
    }

    /// Sends one uvarint-length-prefixed message and half-closes, in one frame (see ``writeAndClose(_:)``).
    public func writeLengthPrefixedAndClose(_ message: [UInt8]) async throws {
        try await writeAndClose(Self.lengthPrefixed(message))
    }

    private static func lengthPrefixed(_ message: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        UVarint.write(UInt64(message.count), into: &buffer)
        buffer.writeBytes(message)
        return buffer
    }
}
