public import NIOCore

/// multistream-select 1.0 negotiation as a state machine with no I/O.
///
/// Messages are a uvarint length, UTF-8 text and `"\n"`. The dialer pipelines its header and
/// first proposal; the listener sends its header at once, answers `ls` with its protocol list
/// and `na` to proposals it does not support. Bytes after the selection (for example a
/// pipelined Noise message) are left unread in the caller's buffer.
///
/// ```swift
/// var dialer = MultistreamStateMachine(dialerProposing: ["/noise"])
/// send(dialer.start())
/// let action = try dialer.receive(&inbound)   // feed bytes as they arrive
/// if let proto = action.selected { ... }
/// ```
public struct MultistreamStateMachine: Sendable {
    /// The protocol id of multistream-select 1.0.
    public static let protocolID = "/multistream/1.0.0"
    /// Longest single message accepted (a protocol id or `na`); `ls` replies may be longer.
    public static let maxMessageLength = 1024

    /// What to do after feeding bytes.
    public struct Action: Sendable {
        /// Bytes to send to the peer (may be empty).
        public var output: ByteBuffer
        /// The protocol agreed on, once negotiation is done.
        public var selected: String?
    }

    enum Role: Sendable {
        case dialer(proposals: [String], next: Int)
        case listener(supported: [String])
    }

    enum State: Sendable {
        case idle
        case awaitingHeader
        case negotiating
        case done(String)
    }

    private var role: Role
    private var state: State = .idle

    /// A dialer that proposes `proposals` in order of preference.
    public init(dialerProposing proposals: [String]) {
        precondition(!proposals.isEmpty, "at least one protocol must be proposed")
        role = .dialer(proposals: proposals, next: 0)
    }

    /// A listener that accepts any of `supported` (the first one the dialer proposes wins).
    public init(listenerSupporting supported: [String]) {
        role = .listener(supported: supported)
    }

    /// The protocol selected, if negotiation has finished.
    public var selected: String? {
        if case .done(let p) = state { return p }
        return nil
    }

    /// The bytes to send first: the header, and for a dialer also its first proposal.
    public mutating func start() -> ByteBuffer {
        precondition({ if case .idle = state { true } else { false } }(), "start() called twice")
        var out = ByteBuffer()
        Self.writeMessage(Self.protocolID, into: &out)
        if case .dialer(let proposals, _) = role {
            Self.writeMessage(proposals[0], into: &out)
            role = .dialer(proposals: proposals, next: 1)
        }
        state = .awaitingHeader
        return out
    }

    /// Consumes whole messages from `buffer` until negotiation finishes or more bytes are needed.
    ///
    /// - Throws: ``Libp2pError/Code/protocolViolation`` on a bad header or malformed message,
    ///   ``Libp2pError/Code/protocolNegotiationFailed`` when the listener refused every proposal.
    public mutating func receive(_ buffer: inout ByteBuffer) throws(Libp2pError) -> Action {
        var output = ByteBuffer()
        while true {
            if case .done(let p) = state { return Action(output: output, selected: p) }
            guard let message = try Self.readMessage(from: &buffer) else {
                return Action(output: output, selected: nil)
            }
            switch state {
            case .idle:
                throw Libp2pError(.protocolViolation, "multistream: receive() before start()")
            case .awaitingHeader:
                guard message == Self.protocolID else {
                    throw Libp2pError(.protocolViolation, "multistream: expected header \(Self.protocolID), got '\(message.prefix(64))'")
                }
                state = .negotiating
            case .negotiating:
                switch role {
                case .dialer(let proposals, let next):
                    if message == proposals[next - 1] {
                        state = .done(message)
                    } else if message == "na" {
                        guard next < proposals.count else {
                            throw Libp2pError(.protocolNegotiationFailed, "the peer supports none of \(proposals)")
                        }
                        Self.writeMessage(proposals[next], into: &output)
                        role = .dialer(proposals: proposals, next: next + 1)
                    } else {
                        throw Libp2pError(.protocolViolation, "multistream: unexpected reply '\(message.prefix(64))' to '\(proposals[next - 1])'")
                    }
                case .listener(let supported):
                    if message == "ls" {
                        Self.writeListing(supported, into: &output)
                    } else if supported.contains(message) {
                        Self.writeMessage(message, into: &output)
                        state = .done(message)
                    } else {
                        Self.writeMessage("na", into: &output)
                    }
                }
            case .done:
                break
            }
        }
    }

    /// Writes one multistream message: uvarint(len + 1), text, "\n".
    public static func writeMessage(_ text: String, into buffer: inout ByteBuffer) {
        UVarint.write(UInt64(text.utf8.count + 1), into: &buffer)
        buffer.writeString(text)
        buffer.writeInteger(UInt8(ascii: "\n"))
    }

    /// Writes the reply to `ls`: one message holding each protocol as a message of its own.
    static func writeListing(_ protocols: [String], into buffer: inout ByteBuffer) {
        var inner = ByteBuffer()
        for p in protocols { writeMessage(p, into: &inner) }
        UVarint.write(UInt64(inner.readableBytes + 1), into: &buffer)
        buffer.writeBuffer(&inner)
        buffer.writeInteger(UInt8(ascii: "\n"))
    }

    /// Parses the body of an `ls` reply (as returned by ``readMessage(from:maxLength:)``) into protocol ids.
    public static func parseListing(_ body: String) throws(Libp2pError) -> [String] {
        var buffer = ByteBuffer(string: body)
        var result: [String] = []
        while buffer.readableBytes > 0 {
            if buffer.readableBytes == 1, buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == UInt8(ascii: "\n") { break }
            guard let p = try readMessage(from: &buffer) else { throw Libp2pError(.protocolViolation, "truncated ls entry") }
            result.append(p)
        }
        return result
    }

    /// Reads one message (without its trailing newline) if a whole one is buffered.
    public static func readMessage(from buffer: inout ByteBuffer, maxLength: Int = maxMessageLength) throws(Libp2pError) -> String? {
        var peek = buffer
        guard let length = try UVarint.read(from: &peek) else { return nil }
        guard length >= 1, length <= UInt64(maxLength) else {
            throw Libp2pError(.protocolViolation, "multistream message length \(length) outside 1...\(maxLength)")
        }
        guard let bytes = peek.readBytes(length: Int(length)) else { return nil }
        guard bytes.last == UInt8(ascii: "\n") else {
            throw Libp2pError(.protocolViolation, "multistream message does not end in a newline")
        }
        buffer = peek
        return String(decoding: bytes.dropLast(), as: UTF8.self)
    }
}
