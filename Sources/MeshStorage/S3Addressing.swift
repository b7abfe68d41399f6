public import Foundation

/// Path-style S3 addressing: `http://host:port/<bucket>/<key>`, the Host
/// header, encoded request targets and presigned URLs. Pure logic.
public struct S3Addressing: Sendable {
    /// `scheme://host[:port]`, no path.
    public let endpoint: URL
    /// The bucket.
    public let bucket: String
    /// The endpoint's host name.
    public let host: String
    /// The endpoint's port (from the URL, else 80/443).
    public let port: Int

    /// Parses an endpoint URL such as `http://127.0.0.1:4566` or `https://o3-rc2.akave.xyz`.
    public init(endpoint: URL, bucket: String) throws {
        guard let host = endpoint.host, !host.isEmpty, let scheme = endpoint.scheme, ["http", "https"].contains(scheme) else {
            throw StorageError(code: .invalidArgument, message: "endpoint '\(endpoint)' must be http(s)://host[:port]")
        }
        guard !bucket.isEmpty, !bucket.contains("/") else {
            throw StorageError(code: .invalidArgument, message: "bucket name '\(bucket)' is invalid")
        }
        self.endpoint = endpoint
        self.bucket = bucket
        self.host = host
        self.port = endpoint.port ?? (scheme == "https" ? 443 : 80)
    }

    /// The Host header: the host, with `:port` unless it is the scheme's default.
    public var hostHeader: String {
        let defaultPort = endpoint.scheme == "https" ? 443 : 80
        return endpoint.port == nil || port == defaultPort ? host : "\(host):\(port)"
    }

    /// The decoded path of an object (or of the bucket when `key` is nil).
    public func path(_ key: String?) -> String {
        key.map { "/\(bucket)/\($0)" } ?? "/\(bucket)"
    }

    /// The encoded request target: path plus canonical query.
    public func target(_ key: String?, query: [(String, String)] = []) -> String {
        let path = SigV4Signer.canonicalURI(path(key))
        return query.isEmpty ? path : path + "?" + SigV4Signer.canonicalQuery(query)
    }

    /// A presigned URL for `method` on `key`.
    public func presignedURL(key: String, method: String, expires: Int, contentType: String?, signer: SigV4Signer, date: Date) throws -> URL {
        let request = SigV4Request(method: method, host: hostHeader, path: path(key),
                                   headers: contentType.map { [("content-type", $0)] } ?? [])
        let query = signer.presignedQuery(request, date: date, expires: expires)
        let text = "\(endpoint.scheme!)://\(hostHeader)\(target(key))?\(query)"
        guard let url = URL(string: text) else {
            throw StorageError(code: .invalidArgument, message: "cannot form a URL for key '\(key)'")
        }
        return url
    }
}
