public import Foundation
import Crypto
import NIOConcurrencyHelpers

/// An access key pair for SigV4.
public struct SigV4Credentials: Sendable, Equatable {
    /// The access key id, e.g. `AKIAIOSFODNN7EXAMPLE`.
    public var accessKeyID: String
    /// The secret access key.
    public var secretAccessKey: String
    /// Creates credentials.
    public init(accessKeyID: String, secretAccessKey: String) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
    }
}

/// One HTTP request as SigV4 sees it: method, host, decoded path and query, headers.
public struct SigV4Request: Sendable {
    /// `GET`, `PUT`, …
    public var method: String
    /// The `Host` header value: host, plus `:port` when not the scheme's default.
    public var host: String
    /// The decoded path, `/bucket/key with spaces`.
    public var path: String
    /// The decoded query parameters; a bare name (`?uploads`) has an empty value.
    public var query: [(String, String)]
    /// Headers to sign besides `host` (names in any case).
    public var headers: [(String, String)]

    /// Creates a request.
    public init(method: String, host: String, path: String, query: [(String, String)] = [], headers: [(String, String)] = []) {
        self.method = method
        self.host = host
        self.path = path
        self.query = query
        self.headers = headers
    }
}

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`), our own: the Authorization
/// header form and the presigned-query form, for S3 path-style requests. Pure
/// logic; time is passed in.
///
/// ```swift
/// let signer = SigV4Signer(credentials: .init(accessKeyID: "test", secretAccessKey: "test"),
///                          region: "us-east-1")
/// let request = SigV4Request(method: "GET", host: "127.0.0.1:4566", path: "/bucket/a.bin")
/// let query = signer.presignedQuery(request, date: Date(), expires: 3600)
/// // http://127.0.0.1:4566/bucket/a.bin?\(query)
/// ```
public struct SigV4Signer: Sendable {
    /// The payload hash of presigned requests.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// The SHA-256 of the empty string.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// The longest presigned lifetime SigV4 allows: 7 days.
    public static let maxExpires = 604_800

    /// The key pair.
    public var credentials: SigV4Credentials
    /// The region in the credential scope, e.g. `us-east-1`.
    public var region: String
    /// The service in the credential scope, `s3`.
    public var service: String

    /// Creates a signer.
    public init(credentials: SigV4Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    // MARK: Header signing

    /// Signs `request` with an Authorization header. Returns the headers to add:
    /// `x-amz-date`, `x-amz-content-sha256` and `Authorization`.
    public func authorizationHeaders(_ request: SigV4Request, payloadHash: String, date: Date) -> [(String, String)] {
        let stamp = Self.timestamp(date)
        var headers = request.headers
        headers.append(("x-amz-date", stamp))
        headers.append(("x-amz-content-sha256", payloadHash))
        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(host: request.host, headers)
        let canonical = [
            request.method, Self.canonicalURI(request.path), Self.canonicalQuery(request.query),
            canonicalHeaders, signedHeaders, payloadHash,
        ].joined(separator: "\n")
        let signature = sign(canonicalRequest: canonical, timestamp: stamp)
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope(stamp)),SignedHeaders=\(signedHeaders),Signature=\(signature)"
        return [("x-amz-date", stamp), ("x-amz-content-sha256", payloadHash), ("Authorization", authorization)]
    }

    // MARK: Presigning

    /// The encoded query string of a presigned URL for `request`, valid for
    /// `expires` seconds from `date`; the payload is `UNSIGNED-PAYLOAD`. Any
    /// headers in the request (e.g. `content-type`) are signed and must be sent.
    public func presignedQuery(_ request: SigV4Request, date: Date, expires: Int) -> String {
        let stamp = Self.timestamp(date)
        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(host: request.host, request.headers)
        var query = request.query
        query.append(("X-Amz-Algorithm", "AWS4-HMAC-SHA256"))
        query.append(("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope(stamp))"))
        query.append(("X-Amz-Date", stamp))
        query.append(("X-Amz-Expires", String(expires)))
        query.append(("X-Amz-SignedHeaders", signedHeaders))
        let canonicalQuery = Self.canonicalQuery(query)
        let canonical = [
            request.method, Self.canonicalURI(request.path), canonicalQuery,
            canonicalHeaders, signedHeaders, Self.unsignedPayload,
        ].joined(separator: "\n")
        let signature = sign(canonicalRequest: canonical, timestamp: stamp)
        return canonicalQuery + "&X-Amz-Signature=" + signature
    }

    // MARK: Internals shared with the verifier

    func scope(_ timestamp: String) -> String {
        "\(timestamp.prefix(8))/\(region)/\(service)/aws4_request"
    }

    func sign(canonicalRequest: String, timestamp: String) -> String {
        let stringToSign = [
            "AWS4-HMAC-SHA256", timestamp, scope(timestamp),
            Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8))),
        ].joined(separator: "\n")
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey(day: String(timestamp.prefix(8)))))
    }

    /// The day's signing key (four HMACs from the secret), derived once per
    /// day, region and service and then kept: every URL a node presigns or
    /// checks on one day uses the same key.
    func signingKey(day: String) -> SymmetricKey {
        let scope = SigningKeyCache.Scope(secret: credentials.secretAccessKey, day: day, region: region, service: service)
        if let key = SigningKeyCache.shared.key(for: scope) { return key }
        var key = SymmetricKey(data: Data(("AWS4" + credentials.secretAccessKey).utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        SigningKeyCache.shared.store(key, for: scope)
        return key
    }

    static func canonicalHeaders(host: String, _ headers: [(String, String)]) -> (String, String) {
        var merged: [String: [String]] = ["host": [host]]
        for (name, value) in headers {
            let trimmed = value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            merged[name.lowercased(), default: []].append(trimmed)
        }
        let names = merged.keys.sorted()
        let canonical = names.map { "\($0):\(merged[$0]!.joined(separator: ","))\n" }.joined()
        return (canonical, names.joined(separator: ";"))
    }

    /// The path with each segment URI-encoded once, `/` kept.
    static func canonicalURI(_ path: String) -> String {
        let encoded = uriEncode(path, keepSlash: true)
        return encoded.hasPrefix("/") ? encoded : "/" + encoded
    }

    /// Parameters encoded and sorted by name, then value.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        // Encoded text is ASCII, so String order is byte order, as SigV4 wants.
        let encoded: [(name: String, value: String)] = query.map { pair in
            (uriEncode(pair.0, keepSlash: false), uriEncode(pair.1, keepSlash: false))
        }
        let sorted = encoded.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        return sorted.map { pair in pair.name + "=" + pair.value }.joined(separator: "&")
    }

    /// RFC 3986 encoding as SigV4 wants it: unreserved characters kept, all else `%XX` upper-case.
    public static func uriEncode(_ text: String, keepSlash: Bool) -> String {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 16)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0f)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Undoes `%XX` escapes (and `+` as a space when `plusIsSpace`); nil when
    /// an escape is malformed or the result is not UTF-8, as Foundation's
    /// `removingPercentEncoding`.
    public static func percentDecode(_ text: Substring, plusIsSpace: Bool) -> String? {
        let utf8 = text.utf8
        guard utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) else { return String(text) }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%") {
                let first = utf8.index(after: index)
                guard first != utf8.endIndex, utf8.index(after: first) != utf8.endIndex,
                      let high = nibble(utf8[first]), let low = nibble(utf8[utf8.index(after: first)]) else { return nil }
                out.append(high << 4 | low)
                index = utf8.index(first, offsetBy: 2)
                continue
            }
            out.append(plusIsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            index = utf8.index(after: index)
        }
        return String(validating: out, as: UTF8.self)
    }

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    public static func timestamp(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        var days = seconds / 86_400
        var rest = seconds % 86_400
        if rest < 0 { rest += 86_400; days -= 1 }
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        // Digits by hand: String(format:) goes through NSString and cost more than the rest of a presigned URL's signing.
        var text: [UInt8] = []
        text.reserveCapacity(16)
        func digits(_ value: Int64, _ width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            var value = value
            for _ in 0..<width {
                text.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                value %= divisor
                divisor /= 10
            }
        }
        digits(year, 4); digits(month, 2); digits(day, 2)
        text.append(UInt8(ascii: "T"))
        digits(rest / 3600, 2); digits(rest % 3600 / 60, 2); digits(rest % 60, 2)
        text.append(UInt8(ascii: "Z"))
        return String(decoding: text, as: UTF8.self)
    }

    /// Parses `yyyyMMdd'T'HHmmss'Z'`.
    static func parseTimestamp(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? { Int(String(decoding: bytes[range], as: UTF8.self)) }
        guard let y = number(0..<4), let mo = number(4..<6), let d = number(6..<8),
              let h = number(9..<11), let mi = number(11..<13), let s = number(13..<15),
              (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61 else { return nil }
        // Days from civil (inverse of the above).
        let yy = Int64(mo <= 2 ? y - 1 : y)
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let mp = Int64(mo > 2 ? mo - 3 : mo + 9)
        let doy = (153 * mp + 2) / 5 + Int64(d) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let date = Date(timeIntervalSince1970: Double(days * 86_400 + Int64(h * 3600 + mi * 60 + s)))
        return timestamp(date) == text ? date : nil
    }

    /// The lower-case hex SHA-256 of `data` (an `x-amz-content-sha256` value).
    public static func sha256Hex(_ data: some DataProtocol) -> String {
        hex(SHA256.hash(data: data))
    }

    /// Lower-case hex of `bytes` (one allocation; no formatting machinery on this hot path of signing and hashing).
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits: StaticString = "0123456789abcdef"
        var utf8: [UInt8] = []
        utf8.reserveCapacity(bytes.underestimatedCount * 2)
        digits.withUTF8Buffer { table in
            for byte in bytes {
                utf8.append(table[Int(byte >> 4)])
                utf8.append(table[Int(byte & 0x0F)])
            }
        }
        return String(decoding: utf8, as: UTF8.self)
    }
}

/// Signing keys by credential scope, shared by every signer and verifier in
/// the process (a handful of entries: one per secret, day, region and service).
final class SigningKeyCache: Sendable {
    struct Scope: Hashable {
        var secret: String
        var day: String
        var region: String
        var service: String
    }

    static let shared = SigningKeyCache()
    /// More scopes than a node uses; past it the cache starts over.
    static let capacity = 64

    private let keys = NIOLockedValueBox<[Scope: SymmetricKey]>([:])

    func key(for scope: Scope) -> SymmetricKey? {
        keys.withLockedValue { $0[scope] }
    }

    func store(_ key: SymmetricKey, for scope: Scope) {
        keys.withLockedValue { keys in
            if keys.count >= Self.capacity { keys.removeAll() }
            keys[scope] = key
        }
    }
}
