public import Foundation
import NIOCore

/// GET and PUT against presigned URLs — the trainer's side of storage. The
/// same calls work whether the URL points at a node's ``PresignedServer`` or
/// at an S3-compatible service: the trainer never knows which.
///
/// ```swift
/// let shard = try await PresignedTransfer.download(lease.shardURL)
/// try await PresignedTransfer.upload(sealed, to: lease.resultURL)
/// ```
public enum PresignedTransfer {
    /// The largest body `download` keeps in memory.
    public static let maximumDownload = 512 << 20

    /// Fetches the object behind a presigned GET URL; a body over `maxBytes` is refused.
    ///
    /// - Throws: ``StorageError`` naming the URL's host and the HTTP status.
    public static func download(_ url: String, timeoutSeconds: Int64 = 120, maxBytes: Int = maximumDownload) async throws -> Data {
        let (host, port, target) = try parts(url)
        var client = HTTPClient()
        client.timeout = .seconds(timeoutSeconds)
        client.maxCollectedBody = min(maxBytes, maximumDownload)
        let response = try await client.execute(method: "GET", host: host, port: port, target: target, headers: [])
        guard (200..<300).contains(response.status) else {
            throw StorageError(code: .http, message: "GET \(host):\(port)\(pathOnly(target)) answered \(response.status): "
                + "\(String(decoding: response.body.prefix(300), as: UTF8.self)); the URL may have expired — ask for a new one")
        }
        return response.body
    }

    /// Uploads `data` to a presigned PUT URL.
    public static func upload(_ data: Data, to url: String, contentType: String? = nil, timeoutSeconds: Int64 = 120) async throws {
        let (host, port, target) = try parts(url)
        var client = HTTPClient()
        client.timeout = .seconds(timeoutSeconds)
        var headers: [(String, String)] = []
        if let contentType { headers.append(("Content-Type", contentType)) }
        let response = try await client.execute(method: "PUT", host: host, port: port, target: target, headers: headers, body: .data(data))
        guard (200..<300).contains(response.status) else {
            throw StorageError(code: .http, message: "PUT \(host):\(port)\(pathOnly(target)) answered \(response.status): "
                + "\(String(decoding: response.body.prefix(300), as: UTF8.self)); the URL may have expired — ask for a new one")
        }
    }

    static func pathOnly(_ target: String) -> Substring { target.split(separator: "?", maxSplits: 1).first ?? "" }

    static func parts(_ text: String) throws -> (host: String, port: Int, target: String) {
        guard let url = URLComponents(string: text), let host = url.host, !host.isEmpty else {
            throw StorageError(code: .invalidArgument, message: "'\(text.prefix(120))' is not a URL")
        }
        guard url.scheme == "http" else {
            throw StorageError(code: .invalidArgument, message: "\(url.scheme ?? "no") scheme in \(host): only http:// presigned URLs are supported (put a TLS proxy in front)")
        }
        let path = url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath
        let target = url.percentEncodedQuery.map { path + "?" + $0 } ?? path
        return (host, url.port ?? 80, target)
    }
}
