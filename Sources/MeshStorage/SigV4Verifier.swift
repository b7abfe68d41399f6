public import Foundation
import Crypto

/// Checks presigned SigV4 URLs the way S3 does: algorithm, credential scope,
/// expiry, signed headers and signature. Pure logic; time is passed in.
///
/// A URL signed for one method, path, query or content type fails for any
/// other, because all of them are in the signed canonical request.
///
/// ```swift
/// let verifier = SigV4Verifier(credentials: [creds], region: "us-east-1")
/// try verifier.verifyPresigned(method: "GET", host: "127.0.0.1:8080",
///                              path: "/meshfl/a.bin", query: query, headers: headers, now: Date())
/// ```
public struct SigV4Verifier: Sendable {
    /// Known key pairs by access key id.
    public var credentials: [String: SigV4Credentials]
    /// The region requests must be scoped to.
    public var region: String
    /// The service requests must be scoped to.
    public var service: String
    /// How far in the future a request's `X-Amz-Date` may be, in seconds.
    public var allowedClockSkew: TimeInterval

    /// Creates a verifier for the given key pairs.
    public init(credentials: [SigV4Credentials], region: String, service: String = "s3", allowedClockSkew: TimeInterval = 900) {
        self.credentials = Dictionary(credentials.map { ($0.accessKeyID, $0) }, uniquingKeysWith: { a, _ in a })
        self.region = region
        self.service = service
        self.allowedClockSkew = allowedClockSkew
    }

    /// Throws ``StorageError/Code/signature`` unless the request carries a valid,
    /// unexpired presigned signature for exactly this method, path, query and
    /// signed headers. `path` and `query` are decoded; `host` is the Host header.
    public func verifyPresigned(
        method: String, host: String, path: String, query: [(String, String)], headers: [(String, String)], now: Date
    ) throws {
        func refuse(_ message: String) -> StorageError {
            StorageError(code: .signature, message: message)
        }
        func value(_ name: String) -> String? { query.first { $0.0 == name }?.1 }
        guard value("X-Amz-Algorithm") == "AWS4-HMAC-SHA256" else {
            throw refuse("the URL is not presigned with AWS4-HMAC-SHA256; ask for a new presigned URL")
        }
        guard let signature = value("X-Amz-Signature"), let credential = value("X-Amz-Credential"),
              let stamp = value("X-Amz-Date"), let expiresText = value("X-Amz-Expires"),
              let signedHeaderList = value("X-Amz-SignedHeaders") else {
            throw refuse("the presigned URL lacks X-Amz-Signature, -Credential, -Date, -Expires or -SignedHeaders; it was truncated")
        }
        let parts = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, let keys = credentials[parts[0]] else {
            throw refuse("the presigned URL's access key is not known to this server; ask the node that serves it for a new URL")
        }
        guard parts[2] == region, parts[3] == service, parts[4] == "aws4_request" else {
            throw refuse("the presigned URL is scoped to \(parts[2])/\(parts[3]), not \(region)/\(service)")
        }
        guard let date = SigV4Signer.parseTimestamp(stamp), parts[1] == String(stamp.prefix(8)) else {
            throw refuse("the presigned URL's X-Amz-Date '\(stamp)' is malformed or disagrees with its credential date")
        }
        guard let expires = Int(expiresText), (1...SigV4Signer.maxExpires).contains(expires) else {
            throw refuse("X-Amz-Expires must be 1…\(SigV4Signer.maxExpires) seconds, not '\(expiresText)'")
        }
        guard now.timeIntervalSince(date) <= Double(expires) else {
            throw refuse("the presigned URL expired at \(SigV4Signer.timestamp(date.addingTimeInterval(Double(expires)))); ask for a new one")
        }
        guard date.timeIntervalSince(now) <= allowedClockSkew else {
            throw refuse("the presigned URL is dated \(stamp), in the future; check the signer's clock")
        }
        let signedNames = signedHeaderList.split(separator: ";").map(String.init)
        guard signedNames.contains("host"), signedNames == signedNames.sorted() else {
            throw refuse("X-Amz-SignedHeaders must be sorted and include host")
        }
        var signedHeaders: [(String, String)] = []
        for name in signedNames where name != "host" {
            let values = headers.filter { $0.0.lowercased() == name }.map(\.1)
            guard !values.isEmpty else {
                throw refuse("the presigned URL signs header '\(name)' but the request does not send it; send the same \(name) the URL was made for")
            }
            for value in values { signedHeaders.append((name, value)) }
        }
        let (canonicalHeaders, names) = SigV4Signer.canonicalHeaders(host: host, signedHeaders)
        guard names == signedHeaderList else {
            throw refuse("the request's headers do not match X-Amz-SignedHeaders")
        }
        let canonical = [
            method, SigV4Signer.canonicalURI(path),
            SigV4Signer.canonicalQuery(query.filter { $0.0 != "X-Amz-Signature" }),
            canonicalHeaders, names, SigV4Signer.unsignedPayload,
        ].joined(separator: "\n")
        let signer = SigV4Signer(credentials: keys, region: region, service: service)
        let expected = signer.sign(canonicalRequest: canonical, timestamp: stamp)
        guard Self.constantTimeEqual(expected, signature.lowercased()) else {
            throw refuse("the signature does not match this request (method, path, query or signed headers differ from what was signed); use the URL exactly as issued, with the method it was issued for")
        }
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}

extension SigV4Verifier {
    /// Splits a raw request target (`/b/k%20x?a=1&b`) into a decoded path and decoded query pairs.
    public static func splitTarget(_ target: String) -> (path: String, query: [(String, String)]) {
        let pieces = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = SigV4Signer.percentDecode(pieces[0], plusIsSpace: false) ?? String(pieces[0])
        guard pieces.count == 2, !pieces[1].isEmpty else { return (path, []) }
        let query: [(String, String)] = pieces[1].split(separator: "&").map { item in
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                SigV4Signer.percentDecode(s, plusIsSpace: true) ?? String(s)
            }
            return (decode(kv[0]), kv.count == 2 ? decode(kv[1]) : "")
        }
        return (path, query)
    }
}
