public import MeshLedger
internal import NIOCore
internal import NIOPosix
internal import NIOHTTP1
internal import NIOSSL
internal import Foundation

/// A `MirrorNodeClient` over HTTP/1.1 (TLS for `https://`): one connection per
/// request, bounded in time and in body size.
///
/// ```swift
/// let mirror = try MirrorNodeHTTPClient(baseURL: "https://testnet.mirrornode.hedera.com")
/// let json = try await mirror.get("/api/v1/topics/0.0.5005/messages?limit=25")
/// ```
public struct MirrorNodeHTTPClient: MirrorNodeClient {
    /// The base URL requests go to.
    public let baseURL: String
    let host: String
    let port: Int
    let useTLS: Bool
    let pathPrefix: String
    /// The longest a request may take, connect to last byte.
    public var timeout: Duration
    /// The largest response body accepted.
    public var maxBodyBytes: Int

    /// A client for `baseURL` (`http://host[:port][/prefix]` or `https://…`).
    public init(baseURL: String, timeout: Duration = .seconds(30), maxBodyBytes: Int = 8 << 20) throws(LedgerError) {
        guard let url = URLComponents(string: baseURL), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty
        else {
            throw LedgerError(.invalidArgument, "the mirror node URL '\(baseURL)' is not http(s)://host[:port]; for testnet use https://testnet.mirrornode.hedera.com.")
        }
        self.baseURL = baseURL
        self.host = host
        self.useTLS = scheme == "https"
        self.port = url.port ?? (useTLS ? 443 : 80)
        self.pathPrefix = url.path.hasSuffix("/") ? String(url.path.dropLast()) : url.path
        self.timeout = timeout
        self.maxBodyBytes = maxBodyBytes
    }

    /// The body of `GET path`; throws for a non-2xx status, a body over `maxBodyBytes`, or after `timeout`.
    public func get(_ path: String) async throws -> [UInt8] {
        let target = path.hasPrefix(pathPrefix) ? path : pathPrefix + path
        let timeout = self.timeout
        return try await withThrowingTaskGroup(of: [UInt8].self) { group in
            group.addTask { try await self.fetch(target) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw LedgerError(.storage, "the mirror node \(self.baseURL) did not answer GET \(target) within \(timeout); check the URL and the network.")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    private func fetch(_ target: String) async throws -> [UInt8] {
        let host = self.host, useTLS = self.useTLS
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(10))
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if useTLS {
                            let context = try NIOSSLContext(configuration: .makeClientConfiguration())
                            let sni = HederaNodeTransport.isIPv4(host) || host.contains(":") ? nil : host
                            try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: sni))
                        }
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw LedgerError(.storage, "cannot connect to the mirror node at \(baseURL); check the URL and that it is up.", cause: error)
        }
        let maxBody = maxBodyBytes
        let (status, body) = try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target)
            head.headers.add(name: "Host", value: port == (useTLS ? 443 : 80) ? host : "\(host):\(port)")
            head.headers.add(name: "Accept", value: "application/json")
            head.headers.add(name: "Connection", value: "close")
            try await outbound.write(.head(head))
            try await outbound.write(.end(nil))
            var status: HTTPResponseStatus?
            var body: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let h): status = h.status
                case .body(let buffer):
                    guard body.count + buffer.readableBytes <= maxBody else {
                        throw LedgerError(.storage, "the mirror node's answer to GET \(target) exceeds \(maxBody) bytes.")
                    }
                    body += buffer.readableBytesView
                case .end: return (status, body)
                }
            }
            return (status, body)
        }
        guard let status else {
            throw LedgerError(.storage, "the mirror node closed the connection before answering GET \(target).")
        }
        guard (200..<300).contains(Int(status.code)) else {
            let code: LedgerError.Code = status == .notFound ? .notFound : .rejected
            let text = String(decoding: body.prefix(200), as: UTF8.self)
            throw LedgerError(code, "the mirror node answered \(status.code) to GET \(target): \(text)")
        }
        return body
    }
}
