import Crypto
import Foundation
import NIOPosix
import NIOCore
import Testing
@testable import MeshStorage

/// One suite, two backends: `S3BlobStore` against a real LocalStack (started
/// and stopped here, signature validation on) and `LocalBlobStore` behind the
/// node's own `PresignedServer`. Both must pass the same checks; a missing
/// LocalStack is a failure, not a skip.
struct BlobStoreTests {
    enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case localstack, node
        var testDescription: String { rawValue }
    }

    /// A running backend: the store under test, a second store whose clock is
    /// an hour behind (its URLs are already expired), and how to stop it.
    struct Running {
        let store: any BlobStore
        let staleStore: any BlobStore
        let multipartSize: Int
        let stop: () async throws -> Void
    }

    static func start(_ backend: Backend, directory: URL) async throws -> Running {
        let past: @Sendable () -> Date = { Date().addingTimeInterval(-3600) }
        switch backend {
        case .localstack:
            let localstack = try await LocalStack.start(directory: directory)
            let creds = SigV4Credentials(accessKeyID: "test", secretAccessKey: "test")
            var s3 = try S3BlobStore(endpoint: localstack.endpoint, region: "us-east-1", bucket: "meshfl-test", credentials: creds)
            s3.multipartThreshold = 6 << 20
            s3.partSize = S3BlobStore.minimumPartSize
            s3.parallelUploads = 3
            try await s3.createBucket()
            let stale = try S3BlobStore(endpoint: localstack.endpoint, region: "us-east-1", bucket: "meshfl-test", credentials: creds, now: past)
            return Running(store: s3, staleStore: stale, multipartSize: 12 << 20 + 12345, stop: { localstack.stop() })
        case .node:
            let blocks = try BlockStore(directory: directory.appending(path: "node"))
            let unserved = try LocalBlobStore(blocks: blocks, blockSize: 256 * 1024)
            let server = try await PresignedServer.start(store: unserved)
            let endpoint = URL(string: "http://127.0.0.1:\(server.port)")!
            let local = try LocalBlobStore(blocks: blocks, endpoint: endpoint, blockSize: 256 * 1024)
            let stale = try LocalBlobStore(blocks: blocks, endpoint: endpoint, blockSize: 256 * 1024, now: past)
            return Running(store: local, staleStore: stale, multipartSize: 3 << 20 + 12345, stop: { try await server.stop() })
        }
    }

    /// Sends a raw HTTP request to a (presigned) URL, as a trainer would.
    static func fetch(_ url: URL, method: String, body: Data = Data(), headers: [(String, String)] = []) async throws -> HTTPClient.Response {
        let target = url.path(percentEncoded: true) + (url.query(percentEncoded: true).map { "?" + $0 } ?? "")
        return try await HTTPClient().execute(method: method, host: url.host!, port: url.port!, target: target,
                                              headers: headers, body: body.isEmpty ? .empty : .data(body))
    }

    static func tamper(_ url: URL, _ edit: (String) -> String) -> URL { URL(string: edit(url.absoluteString))! }

    @Test(.timeLimit(.minutes(3)), arguments: Backend.allCases)
    func theSameSuitePassesOnEveryBackend(_ backend: Backend) async throws {
        let directory = try TestSupport.temporaryDirectory("meshfl-blob-\(backend)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let running = try await Self.start(backend, directory: directory)
        do {
            try await Self.checks(running, directory: directory)
        } catch {
            try? await running.stop()
            throw error
        }
        try await running.stop()
    }

    static func checks(_ running: Running, directory: URL) async throws {
        let store = running.store

        // put / get / head / list / delete
        let small = TestSupport.bytes(100_000, seed: 1)
        let info = try await store.put(key: "jobs/1/small.bin", data: small, contentType: "application/x-shard")
        #expect(info.sha256 == SigV4Signer.sha256Hex(small))
        #expect(try await store.get(key: "jobs/1/small.bin") == small)
        let head = try #require(try await store.head(key: "jobs/1/small.bin"))
        #expect(head.size == 100_000)
        #expect(head.sha256 == SigV4Signer.sha256Hex(small))
        #expect(head.contentType == "application/x-shard")
        #expect(try await store.head(key: "jobs/1/absent.bin") == nil)

        // multipart-sized object, streamed from and to files
        let bigFile = directory.appending(path: "big.bin")
        let big = TestSupport.bytes(running.multipartSize, seed: 2)
        try big.write(to: bigFile)
        let bigInfo = try await store.put(key: "jobs/1/big.bin", file: bigFile, contentType: nil)
        #expect(bigInfo.size == Int64(big.count))
        let bigOut = directory.appending(path: "big.out")
        let got = try await store.get(key: "jobs/1/big.bin", to: bigOut)
        #expect(got.sha256 == SigV4Signer.sha256Hex(big))
        #expect(try Data(contentsOf: bigOut) == big)
        #expect(try await store.head(key: "jobs/1/big.bin")?.sha256 == SigV4Signer.sha256Hex(big))

        #expect(try await store.list(prefix: "jobs/1/").map(\.key) == ["jobs/1/big.bin", "jobs/1/small.bin"])
        try await store.delete(key: "jobs/1/big.bin")
        #expect(try await store.head(key: "jobs/1/big.bin") == nil)
        #expect(try await store.list(prefix: "jobs/").map(\.key) == ["jobs/1/small.bin"])

        // presigned PUT then GET, with a signed content type
        // The trainer's path: seal the weights to the requester, PUT them at the
        // URL it was handed; the requester GETs and opens them.
        let requester = Curve25519.KeyAgreement.PrivateKey()
        let weights = TestSupport.bytes(70_000, seed: 3)
        let payload = try Sealer.seal(weights, to: requester.publicKey, chunkSize: 16_384)
        let putURL = try store.presignedURL(key: "jobs/1/result.bin", method: .put, expires: 600, contentType: "application/octet-stream")
        let put = try await fetch(putURL, method: "PUT", body: payload, headers: [("Content-Type", "application/octet-stream")])
        #expect(put.status == 200, "presigned PUT: \(put.status) \(String(decoding: put.body, as: UTF8.self))")
        let getURL = try store.presignedURL(key: "jobs/1/result.bin", method: .get, expires: 600, contentType: nil)
        let get = try await fetch(getURL, method: "GET")
        #expect(get.status == 200, "presigned GET: \(get.status) \(String(decoding: get.body, as: UTF8.self))")
        #expect(get.body == payload)
        #expect(try Sealer.open(get.body, with: requester) == weights)

        // refusals
        let tampered = tamper(getURL) { url in
            let range = url.range(of: "X-Amz-Signature=")!
            var sig = Array(url[range.upperBound...])
            sig[0] = sig[0] == "a" ? "b" : "a"
            return String(url[..<range.upperBound]) + String(sig)
        }
        #expect(try await fetch(tampered, method: "GET").status == 403, "tampered signature accepted")
        let otherKey = tamper(getURL) { $0.replacingOccurrences(of: "result.bin", with: "small.bin") }
        #expect(try await fetch(otherKey, method: "GET").status == 403, "changed key accepted")
        let expired = try running.staleStore.presignedURL(key: "jobs/1/result.bin", method: .get, expires: 60, contentType: nil)
        #expect(try await fetch(expired, method: "GET").status == 403, "expired URL accepted")
        let misused = try await fetch(getURL, method: "PUT", body: Data("overwritten".utf8))
        #expect(misused.status == 403, "GET URL used for PUT accepted")
        let wrongType = try await fetch(putURL, method: "PUT", body: payload, headers: [("Content-Type", "text/html")])
        #expect(wrongType.status == 403, "PUT with another content type accepted")
        #expect(try await store.get(key: "jobs/1/result.bin") == payload)
    }

    /// Buffered writes (no fsync) store exactly what synced ones do: in memory
    /// through `put(key:data:…)`, and uploaded through a server started with
    /// `uploads: .buffered`.
    @Test(.timeLimit(.minutes(1)))
    func bufferedWritesStoreTheSameObjects() async throws {
        let directory = try TestSupport.temporaryDirectory("meshfl-buffered")
        let data = TestSupport.bytes(2_500_000)
        let synced = try LocalBlobStore(blocks: try BlockStore(directory: directory.appendingPathComponent("a")))
        let bufferedStore = try LocalBlobStore(blocks: try BlockStore(directory: directory.appendingPathComponent("b")))
        let one = try await synced.put(key: "w", data: data, contentType: nil, durability: .synced)
        let two = try await bufferedStore.put(key: "w", data: data, contentType: nil, durability: .buffered)
        #expect(one == two)
        #expect(one.sha256 == SigV4Signer.sha256Hex(data))
        #expect(try await bufferedStore.get(key: "w") == data)

        let server = try await PresignedServer.start(store: bufferedStore, uploads: .buffered)
        do {
            let served = try LocalBlobStore(blocks: bufferedStore.blocks, endpoint: URL(string: "http://127.0.0.1:\(server.port)"))
            try await PresignedTransfer.upload(data, to: try served.presignedURL(key: "up", method: .put, expires: 60, contentType: nil).absoluteString)
            #expect(try await served.head(key: "up") == BlobInfo(key: "up", size: one.size, sha256: one.sha256, contentType: nil))
            #expect(try await PresignedTransfer.download(try served.presignedURL(key: "up", method: .get, expires: 60, contentType: nil).absoluteString) == data)
        } catch {
            try? await server.stop()
            throw error
        }
        try await server.stop()
    }

    /// Presigned uploads up to the in-memory limit are kept in memory, larger
    /// ones go through a temp file: both store the same bytes.
    @Test(.timeLimit(.minutes(1)))
    func uploadsOnBothSidesOfTheInMemoryLimitStoreTheSameBytes() async throws {
        let directory = try TestSupport.temporaryDirectory("meshfl-upload-sizes")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try LocalBlobStore(blocks: try BlockStore(directory: directory.appendingPathComponent("s")))
        let server = try await PresignedServer.start(store: store)
        do {
            let served = try LocalBlobStore(blocks: store.blocks, endpoint: URL(string: "http://127.0.0.1:\(server.port)"))
            for (key, size) in [("empty", 0), ("at-limit", PresignedRequestHandler.inMemoryUploadLimit),
                                ("above-limit", PresignedRequestHandler.inMemoryUploadLimit + 1)] {
                let data = TestSupport.bytes(size, seed: UInt64(size % 97))
                try await PresignedTransfer.upload(data, to: try served.presignedURL(key: key, method: .put, expires: 60, contentType: nil).absoluteString)
                #expect(try await served.head(key: key)?.sha256 == SigV4Signer.sha256Hex(data), "\(key)")
                #expect(try await store.get(key: key) == data, "\(key)")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: store.blocks.tempPath).isEmpty, "no temp file left behind")
        } catch {
            try? await server.stop()
            throw error
        }
        try await server.stop()
    }

    /// Sequential requests to one server share a kept-alive connection; one
    /// the server closed while it sat idle is replaced, and the request works.
    @Test(.timeLimit(.minutes(1)))
    func connectionsAreKeptAliveAndReplacedWhenTheServerDropsThem() async throws {
        let directory = try TestSupport.temporaryDirectory("meshfl-keepalive")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try LocalBlobStore(blocks: try BlockStore(directory: directory.appendingPathComponent("s")))
        let server = try await PresignedServer.start(store: store, idleTimeout: .milliseconds(300))
        do {
            let served = try LocalBlobStore(blocks: store.blocks, endpoint: URL(string: "http://127.0.0.1:\(server.port)"))
            let endpoint = HTTPConnectionPool.Endpoint(host: "127.0.0.1", port: server.port)
            let data = TestSupport.bytes(50_000, seed: 7)
            try await PresignedTransfer.upload(data, to: try served.presignedURL(key: "k", method: .put, expires: 60, contentType: nil).absoluteString)
            #expect(HTTPConnectionPool.shared.idleCount(endpoint) == 1, "the connection is kept after the PUT")
            let get = try served.presignedURL(key: "k", method: .get, expires: 60, contentType: nil).absoluteString
            for _ in 0..<3 {
                #expect(try await PresignedTransfer.download(get) == data)
                #expect(HTTPConnectionPool.shared.idleCount(endpoint) == 1, "one connection serves every request")
            }
            // Refused requests close their connection (the server says so); the next one opens a new one.
            let tampered = get.replacingOccurrences(of: "X-Amz-Signature=", with: "X-Amz-Signature=0")
            await #expect(throws: StorageError.self) { try await PresignedTransfer.download(tampered) }
            #expect(try await PresignedTransfer.download(get) == data)
            // The server drops the idle connection; the client notices and connects again.
            try await Task.sleep(for: .milliseconds(900))
            #expect(try await PresignedTransfer.download(get) == data)
        } catch {
            try? await server.stop()
            throw error
        }
        try await server.stop()
    }

    /// With `stageUploads`, uploads live in the store's memory (seen by every
    /// copy of the store, served back, deleted without a trace on disk) until
    /// the staging area is full; then they go to disk as before.
    @Test(.timeLimit(.minutes(1)))
    func stagedUploadsStayInMemoryUntilTheAreaIsFull() async throws {
        let directory = try TestSupport.temporaryDirectory("meshfl-staged")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try LocalBlobStore(blocks: try BlockStore(directory: directory.appendingPathComponent("s")), stagingLimit: 150_000)
        let server = try await PresignedServer.start(store: store, uploads: .buffered, stageUploads: true)
        do {
            let served = store.served(at: URL(string: "http://127.0.0.1:\(server.port)")!)
            let first = TestSupport.bytes(100_000, seed: 11), second = TestSupport.bytes(100_000, seed: 12)
            try await PresignedTransfer.upload(first, to: try served.presignedURL(key: "r/1", method: .put, expires: 60, contentType: nil).absoluteString)
            #expect(store.staging.bytes == 100_000)
            #expect(try await served.get(key: "r/1") == first)
            #expect(try await served.head(key: "r/1")?.sha256 == SigV4Signer.sha256Hex(first))
            #expect(try await PresignedTransfer.download(try served.presignedURL(key: "r/1", method: .get, expires: 60, contentType: nil).absoluteString) == first)
            #expect(try await served.list(prefix: "r/").isEmpty, "nothing of a staged object is on disk")
            // Past the limit, the next upload is stored on disk.
            try await PresignedTransfer.upload(second, to: try served.presignedURL(key: "r/2", method: .put, expires: 60, contentType: nil).absoluteString)
            #expect(store.staging.bytes == 100_000)
            #expect(try await served.list(prefix: "r/").map(\.key) == ["r/2"])
            #expect(try await served.get(key: "r/2") == second)
            try await served.delete(key: "r/1")
            #expect(store.staging.bytes == 0)
            #expect(try await served.head(key: "r/1") == nil)
            await #expect(throws: StorageError.self) { try await served.get(key: "r/1") }
        } catch {
            try? await server.stop()
            throw error
        }
        try await server.stop()
    }

    @Test func ipLiteralsConnectWithoutTheResolver() {
        #expect(HTTPClient.literalAddress(host: "127.0.0.1", port: 80)?.ipAddress == "127.0.0.1")
        #expect(HTTPClient.literalAddress(host: "[::1]", port: 80)?.port == 80)
        #expect(HTTPClient.literalAddress(host: "localhost", port: 80) == nil)
        #expect(HTTPClient.literalAddress(host: "o3-rc2.akave.xyz", port: 443) == nil)
    }

    @Test func requestsCarryNoChecksumHeadersAndAreSigned() throws {
        let s3 = try S3BlobStore(endpoint: URL(string: "http://127.0.0.1:4566")!, region: "us-east-1", bucket: "b",
                                 credentials: .init(accessKeyID: "test", secretAccessKey: "test"))
        let headers = s3.signedHeaders(method: "PUT", key: "a b.bin", query: [], headers: [("x-amz-meta-sha256", "00")], payloadHash: "00")
        #expect(!headers.contains { $0.0.lowercased().hasPrefix("x-amz-checksum") })
        let auth = try #require(headers.first { $0.0 == "Authorization" }?.1)
        #expect(auth.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-meta-sha256,"))
        #expect(s3.addressing.target("a b.bin", query: [("uploads", "")]) == "/b/a%20b.bin?uploads=")
        #expect(throws: StorageError.self) {
            try S3BlobStore(endpoint: URL(string: "https://o3-rc2.akave.xyz")!, region: "us-south-1", bucket: "b", credentials: .init(accessKeyID: "k", secretAccessKey: "s"))
        }
    }
}
