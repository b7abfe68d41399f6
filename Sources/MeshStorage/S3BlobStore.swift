public import Foundation
import Crypto
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A ``BlobStore`` on an S3-compatible service, path-style, signed with our
/// own ``SigV4Signer``.
///
/// Every object carries our own SHA-256 as `x-amz-meta-sha256` (an ETag is not
/// a hash: for multipart uploads it is a hash of hashes), and downloads are
/// checked against it. No `x-amz-checksum-*` headers are ever sent (Akave O3
/// rejects them). Objects of ``multipartThreshold`` bytes or more go up as a
/// multipart upload in ``partSize`` parts (≥ 5 MiB), ``parallelUploads`` at a
/// time, each request retried up to ``attempts`` times.
///
/// **Akave O3**: endpoint `https://o3-rc2.akave.xyz` with region `us-south-1`
/// (the community endpoint), or the production endpoint Akave's sales team
/// provides with region `akave-network`; credentials are an ordinary
/// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` pair obtained from Akave
/// (their Builders channel for testing, sales for production). O3 is
/// HTTPS-only and ``HTTPClient`` speaks plain HTTP, so reach it through a local
/// TLS-terminating proxy (e.g. `stunnel` or `socat`) and use the proxy's
/// `http://127.0.0.1:PORT` as the endpoint with O3's region. **LocalStack**:
/// `http://127.0.0.1:4566`, `us-east-1`, `test`/`test`.
///
/// ```swift
/// let s3 = try S3BlobStore(endpoint: URL(string: "http://127.0.0.1:4566")!, region: "us-east-1",
///                          bucket: "meshfl", credentials: .init(accessKeyID: "test", secretAccessKey: "test"))
/// try await s3.createBucket()
/// _ = try await s3.put(key: "w.bin", file: weights, contentType: nil)
/// ```
public struct S3BlobStore: BlobStore {
    /// The smallest part S3 accepts (except the last).
    public static let minimumPartSize = 5 << 20

    /// Path-style addressing of the bucket.
    public let addressing: S3Addressing
    /// The request signer.
    public let signer: SigV4Signer
    /// Objects this large or larger use multipart upload.
    public var multipartThreshold: Int64 = 16 << 20
    /// Multipart part size, at least 5 MiB.
    public var partSize: Int = 8 << 20
    /// Parts uploaded at once.
    public var parallelUploads = 4
    /// Tries per request (connection errors, 5xx and 429 are retried).
    public var attempts = 3
    /// The time source for signing.
    let now: @Sendable () -> Date
    var client = HTTPClient()

    /// Creates a store for `bucket` at `endpoint` (`http://host:port`).
    public init(
        endpoint: URL, region: String, bucket: String, credentials: SigV4Credentials,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        guard endpoint.scheme == "http" else {
            throw StorageError(code: .invalidArgument, message: "S3BlobStore speaks plain HTTP only; for https endpoints such as Akave O3 run a local TLS proxy and pass its http://127.0.0.1:PORT")
        }
        addressing = try S3Addressing(endpoint: endpoint, bucket: bucket)
        signer = SigV4Signer(credentials: credentials, region: region)
        self.now = now
    }

    // MARK: Requests

    /// The signed headers for one request; never any `x-amz-checksum-*`.
    func signedHeaders(method: String, key: String?, query: [(String, String)], headers: [(String, String)], payloadHash: String) -> [(String, String)] {
        let request = SigV4Request(method: method, host: addressing.hostHeader, path: addressing.path(key), query: query, headers: headers)
        return [("Host", addressing.hostHeader)] + headers + signer.authorizationHeaders(request, payloadHash: payloadHash, date: now())
    }

    /// Sends one signed request with retries; returns a 2xx (or `accept`ed) response or throws.
    func send(
        _ method: String, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [],
        body: HTTPClient.Body = .empty, payloadHash: String = SigV4Signer.emptyPayloadHash,
        download: String? = nil, accept: Set<Int> = []
    ) async throws -> HTTPClient.Response {
        var lastError: (any Error)?
        for attempt in 1...max(1, attempts) {
            if attempt > 1 { try await Task.sleep(for: .milliseconds(200 * (1 << (attempt - 2)))) }
            var fd: Int32?
            if let download {
                fd = open(download, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                guard fd! >= 0 else {
                    throw StorageError(code: .io, message: "cannot write \(download)", cause: Errno(call: "open", value: errno))
                }
            }
            defer { if let fd { close(fd) } }
            let response: HTTPClient.Response
            do {
                response = try await client.execute(
                    method: method, host: addressing.host, port: addressing.port,
                    target: addressing.target(key, query: query),
                    headers: signedHeaders(method: method, key: key, query: query, headers: headers, payloadHash: payloadHash),
                    body: body, downloadFD: fd)
            } catch {
                lastError = error  // connection trouble: retry
                continue
            }
            if (200..<300).contains(response.status) || accept.contains(response.status) { return response }
            let text = String(decoding: response.body, as: UTF8.self)
            let error = StorageError(
                code: response.status == 404 ? .notFound : .http,
                message: "\(method) \(addressing.path(key)) → \(response.status) \(XMLScan.value("Code", in: text) ?? ""): \(XMLScan.value("Message", in: text) ?? String(text.prefix(200)))")
            guard response.status >= 500 || response.status == 429 else { throw error }
            lastError = error
        }
        throw StorageError(code: .http, message: "\(method) \(addressing.path(key)) failed \(attempts) times; check the endpoint and try again", cause: lastError)
    }

    /// Creates the bucket; succeeds if this account already owns it.
    public func createBucket() async throws {
        _ = try await send("PUT", key: nil, accept: [409])
    }

    // MARK: BlobStore

    /// Uploads the file (one PUT, or multipart at ``multipartThreshold``) with its SHA-256 as `x-amz-meta-sha256`.
    public func put(key: String, file: URL, contentType: String?) async throws -> BlobInfo {
        try Self.validate(key: key)
        let (size, sha256) = try Self.hashFile(file.path)
        var headers: [(String, String)] = [("x-amz-meta-sha256", sha256)]
        if let contentType { headers.append(("Content-Type", contentType)) }
        if size < multipartThreshold {
            _ = try await send("PUT", key: key, headers: headers, body: .file(path: file.path, offset: 0, length: size), payloadHash: sha256)
        } else {
            try await multipartUpload(key: key, path: file.path, size: size, headers: headers)
        }
        return BlobInfo(key: key, size: size, sha256: sha256, contentType: contentType)
    }

    func multipartUpload(key: String, path: String, size: Int64, headers: [(String, String)]) async throws {
        guard partSize >= Self.minimumPartSize else {
            throw StorageError(code: .invalidArgument, message: "multipart parts must be at least 5 MiB, not \(partSize) bytes")
        }
        let created = try await send("POST", key: key, query: [("uploads", "")], headers: headers)
        guard let uploadID = XMLScan.value("UploadId", in: String(decoding: created.body, as: UTF8.self)) else {
            throw StorageError(code: .http, message: "CreateMultipartUpload for '\(key)' returned no UploadId; the endpoint may not support multipart")
        }
        let partCount = Int((size + Int64(partSize) - 1) / Int64(partSize))
        do {
            var etags = [String](repeating: "", count: partCount)
            try await withThrowingTaskGroup(of: (Int, String).self) { group in
                var next = 0
                func start() {
                    let number = next
                    next += 1
                    group.addTask { try await uploadPart(number, key: key, uploadID: uploadID, path: path, size: size) }
                }
                while next < min(parallelUploads, partCount) { start() }
                while let (index, etag) = try await group.next() {
                    etags[index] = etag
                    if next < partCount { start() }
                }
            }
            let parts = etags.enumerated().map { "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\(XMLScan.escape($0.element))</ETag></Part>" }
            let xml = Data(("<CompleteMultipartUpload>" + parts.joined() + "</CompleteMultipartUpload>").utf8)
            let done = try await send("POST", key: key, query: [("uploadId", uploadID)], headers: [("Content-Type", "application/xml")],
                                      body: .data(xml), payloadHash: SigV4Signer.sha256Hex(xml))
            // S3 may answer 200 with an <Error> body.
            let text = String(decoding: done.body, as: UTF8.self)
            if text.contains("<Error>") {
                throw StorageError(code: .http, message: "CompleteMultipartUpload for '\(key)' failed: \(XMLScan.value("Message", in: text) ?? text)")
            }
        } catch {
            _ = try? await send("DELETE", key: key, query: [("uploadId", uploadID)], accept: [404])
            throw error
        }
    }

    /// Reads, hashes and uploads part `index` (0-based); returns (index, ETag).
    func uploadPart(_ index: Int, key: String, uploadID: String, path: String, size: Int64) async throws -> (Int, String) {
        let offset = Int64(index) * Int64(partSize)
        let length = min(Int64(partSize), size - offset)
        // Hash the part by streaming it; the body then streams from the file again.
        let hash = try Self.hashFile(path, offset: offset, length: length).1
        let response = try await send("PUT", key: key, query: [("partNumber", String(index + 1)), ("uploadId", uploadID)],
                                      body: .file(path: path, offset: offset, length: length), payloadHash: hash)
        guard let etag = response.header("ETag") else {
            throw StorageError(code: .http, message: "UploadPart \(index + 1) of '\(key)' returned no ETag")
        }
        return (index, etag)
    }

    /// Downloads into `file` (atomically) and checks the stored SHA-256.
    public func get(key: String, to file: URL) async throws -> BlobInfo {
        try Self.validate(key: key)
        let directory = file.deletingLastPathComponent().path
        try FileOps.makeDirectory(directory)
        let temp = directory + "/.\(UUID().uuidString).download"
        defer { unlink(temp) }
        let response = try await send("GET", key: key, download: temp)
        let (size, sha256) = try Self.hashFile(temp)
        if let expected = response.header("x-amz-meta-sha256"), expected != sha256 {
            throw StorageError(code: .corruptBlock, message: "object '\(key)' downloaded with SHA-256 \(sha256) but was stored as \(expected); it was altered — do not use it")
        }
        if let length = response.header("Content-Length").flatMap(Int64.init), length != size {
            throw StorageError(code: .http, message: "object '\(key)' arrived with \(size) of \(length) bytes; retry the download")
        }
        try FileOps.commit(temp, to: file.path)
        return BlobInfo(key: key, size: size, sha256: sha256, contentType: response.header("Content-Type"))
    }

    /// HEAD: size, stored SHA-256 and content type, or nil on 404.
    public func head(key: String) async throws -> BlobInfo? {
        try Self.validate(key: key)
        let response = try await send("HEAD", key: key, accept: [404])
        guard response.status != 404 else { return nil }
        return BlobInfo(key: key, size: response.header("Content-Length").flatMap(Int64.init) ?? 0,
                        sha256: response.header("x-amz-meta-sha256"), contentType: response.header("Content-Type"))
    }

    /// DELETE; a missing key is not an error.
    public func delete(key: String) async throws {
        try Self.validate(key: key)
        _ = try await send("DELETE", key: key, accept: [404])
    }

    /// ListObjectsV2, following continuation tokens.
    public func list(prefix: String) async throws -> [BlobInfo] {
        var results: [BlobInfo] = []
        var token: String?
        for _ in 0..<10_000 {  // 1000 keys a page: bounded at 10 M keys
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let text = String(decoding: try await send("GET", key: nil, query: query).body, as: UTF8.self)
            for entry in XMLScan.values("Contents", in: text) {
                guard let key = XMLScan.value("Key", in: entry) else { continue }
                results.append(BlobInfo(key: key, size: XMLScan.value("Size", in: entry).flatMap(Int64.init) ?? 0, sha256: nil, contentType: nil))
            }
            guard XMLScan.value("IsTruncated", in: text) == "true", let next = XMLScan.value("NextContinuationToken", in: text) else { break }
            token = next
        }
        return results.sorted { $0.key < $1.key }
    }

    /// A SigV4 presigned URL (`UNSIGNED-PAYLOAD`), path-style.
    public func presignedURL(key: String, method: PresignedMethod, expires: Int, contentType: String?) throws -> URL {
        try Self.validate(key: key)
        try Self.validate(expires: expires)
        return try addressing.presignedURL(key: key, method: method.rawValue, expires: expires, contentType: contentType, signer: signer, date: now())
    }

    /// (length, SHA-256 hex) of a file region, streaming.
    static func hashFile(_ path: String, offset: Int64 = 0, length: Int64? = nil) throws -> (Int64, String) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StorageError(code: .notFound, message: "cannot open \(path) for reading; check the path")
        }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        var hasher = SHA256()
        var total: Int64 = 0
        while length.map({ total < $0 }) ?? true {
            let want = Int(min(Int64(1 << 20), (length ?? Int64.max) - total))
            guard let piece = try handle.read(upToCount: want), !piece.isEmpty else { break }
            hasher.update(data: piece)
            total += Int64(piece.count)
        }
        return (total, SigV4Signer.hex(hasher.finalize()))
    }
}
