/// A request/response protocol over streams: one uvarint-length-prefixed request, one response,
/// each at most ``maxMessageSize`` bytes, the whole exchange bounded by ``timeout``.
///
/// ```swift
/// let rr = RequestResponse(protocolID: "/meshfl/task/1.0.0")
/// await rr.serve(on: host) { request, peer in request.reversed() }
/// let reply = try await rr.request(peer, payload: [1, 2, 3], on: other)
/// ```
public struct RequestResponse: Sendable {
    /// The protocol id.
    public var protocolID: String
    /// Largest request or response accepted.
    public var maxMessageSize: Int
    /// Limit on one exchange.
    public var timeout: Duration

    /// A protocol with the given limits.
    public init(protocolID: String, maxMessageSize: Int = 4 << 20, timeout: Duration = .seconds(30)) {
        self.protocolID = protocolID
        self.maxMessageSize = maxMessageSize
        self.timeout = timeout
    }

    /// Sends `payload` to `peer` and returns its response.
    ///
    /// - Throws: ``Libp2pError/Code/messageTooLarge``, ``Libp2pError/Code/timeout``, or a connection error.
    public func request(_ peer: PeerID, payload: [UInt8], on host: Host) async throws -> [UInt8] {
        guard payload.count <= maxMessageSize else {
            throw Libp2pError(.messageTooLarge, "request of \(payload.count) bytes exceeds \(maxMessageSize)")
        }
        let limit = maxMessageSize
        // The request goes out without waiting for the protocol's answer (one round trip less); a refusal
        // surfaces on the read below, as protocolNegotiationFailed.
        let stream = try await host.newStream(to: peer, proposing: protocolID)
        do {
            return try await withTimeout(timeout, "request on \(protocolID)", onTimeout: { Task { await stream.reset() } }) {
                try await stream.writeLengthPrefixedAndClose(payload)
                guard let response = try await stream.readLengthPrefixed(maxLength: limit) else {
                    throw Libp2pError(.closed, "\(peer) closed the stream without a response")
                }
                return response
            }
        } catch {
            await stream.reset()
            throw error
        }
    }

    /// Serves requests on `host`; `handler` maps a request (and its sender) to a response.
    /// A handler error resets the stream.
    public func serve(on host: Host, handler: @escaping @Sendable ([UInt8], PeerID) async throws -> [UInt8]) async {
        let limit = maxMessageSize
        let timeout = self.timeout
        let protocolID = self.protocolID
        await host.setHandler(protocolID) { stream in
            do {
                try await withTimeout(timeout, "serving \(protocolID)", onTimeout: { Task { await stream.reset() } }) {
                    guard let request = try await stream.readLengthPrefixed(maxLength: limit) else { return }
                    let response = try await handler(request, stream.remotePeer)
                    guard response.count <= limit else {
                        throw Libp2pError(.messageTooLarge, "response of \(response.count) bytes exceeds \(limit)")
                    }
                    try await stream.writeLengthPrefixedAndClose(response)
                }
            } catch {
                await stream.reset()
            }
        }
    }
}
