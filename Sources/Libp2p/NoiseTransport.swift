public import NIOCore

/// The receiving half of a Noise transport: reassembles 2-byte-length frames and decrypts them.
public struct NoiseTransportReader: Sendable {
    private var cipher: NoiseCipherState
    /// Encrypted bytes not yet forming a whole frame.
    var raw: ByteBuffer

    /// A reader with `cipher`, starting with already-received bytes `raw`.
    public init(cipher: NoiseCipherState, raw: ByteBuffer) {
        self.cipher = cipher
        self.raw = raw
    }

    /// Decrypts every whole frame buffered so far.
    ///
    /// - Throws: ``Libp2pError/Code/handshakeFailed`` if a frame fails authentication.
    public mutating func decryptAvailable() throws(Libp2pError) -> ByteBuffer {
        var out = ByteBuffer()
        while let length = raw.getInteger(at: raw.readerIndex, as: UInt16.self), raw.readableBytes >= 2 + Int(length) {
            raw.moveReaderIndex(forwardBy: 2)
            try cipher.open(raw.readSlice(length: Int(length))!, appendingTo: &out)
        }
        // Keep only the partial frame, so the buffer never grows with the bytes already decrypted.
        raw.discardConsumedBytes()
        return out
    }

    /// Decrypts every whole frame in the buffered bytes followed by `more`.
    ///
    /// Frames that lie wholly inside `more` are decrypted where they are; only a frame split between two
    /// reads is copied to make it whole, and the unfinished tail is kept as a slice of `more`.
    public mutating func decrypt(appending more: ByteBuffer) throws(Libp2pError) -> ByteBuffer {
        var more = more
        var out = ByteBuffer()
        out.reserveCapacity(raw.readableBytes + more.readableBytes)
        if raw.readableBytes > 0 {
            // Finish the frame begun in an earlier read.
            let headerPart = min(max(0, 2 - raw.readableBytes), more.readableBytes)
            var header = more.readSlice(length: headerPart)!
            raw.writeBuffer(&header)
            guard let length = raw.getInteger(at: raw.readerIndex, as: UInt16.self) else { return out }
            var rest = more.readSlice(length: min(2 + Int(length) - raw.readableBytes, more.readableBytes))!
            raw.writeBuffer(&rest)
            guard raw.readableBytes == 2 + Int(length) else { return out }
            raw.moveReaderIndex(forwardBy: 2)
            try cipher.open(raw.readSlice(length: Int(length))!, appendingTo: &out)
            raw = ByteBuffer()
        }
        while let length = more.getInteger(at: more.readerIndex, as: UInt16.self), more.readableBytes >= 2 + Int(length) {
            more.moveReaderIndex(forwardBy: 2)
            try cipher.open(more.readSlice(length: Int(length))!, appendingTo: &out)
        }
        if more.readableBytes > 0 {
            raw = more.readSlice(length: more.readableBytes)!
        }
        return out
    }

    /// Reads from `connection` until at least one plaintext byte is available; `nil` at end of stream.
    public mutating func read(from connection: TCPConnection) async throws -> ByteBuffer? {
        while true {
            let plain = try decryptAvailable()
            if plain.readableBytes > 0 { return plain }
            guard var more = try await connection.read() else {
                if raw.readableBytes > 0 {
                    throw Libp2pError(.protocolViolation, "connection ended inside a Noise frame")
                }
                return nil
            }
            raw.append(adopting: &more)
        }
    }
}

/// The sending half of a Noise transport: encrypts into frames of at most 65,535 bytes.
public struct NoiseTransportWriter: Sendable {
    /// Largest plaintext per frame (65,535 minus the 16-byte tag).
    public static let maxPlaintext = NoiseHandshake.maxFrameLength - NoiseCipherState.tagLength
    private var cipher: NoiseCipherState

    /// A writer with `cipher`.
    public init(cipher: NoiseCipherState) { self.cipher = cipher }

    /// Encrypts `plaintext` into frames; never emits an empty frame (py-libp2p reads one as EOF).
    public mutating func seal(_ plaintext: ByteBuffer) throws(Libp2pError) -> ByteBuffer {
        var input = plaintext
        var out = ByteBuffer()
        out.reserveCapacity(input.readableBytes + (input.readableBytes / Self.maxPlaintext + 1) * 18)
        while input.readableBytes > 0 {
            let chunk = input.readSlice(length: min(input.readableBytes, Self.maxPlaintext))!
            out.writeInteger(UInt16(chunk.readableBytes + NoiseCipherState.tagLength))
            try cipher.seal(chunk, appendingTo: &out)
        }
        return out
    }
}
