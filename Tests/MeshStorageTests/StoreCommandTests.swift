import Foundation
import Testing
@testable import MeshStorage

/// `meshfl store` end to end: the real binary (built next to this test bundle
/// by `swift build --build-tests`) on a temp data directory.
struct StoreCommandTests {
    static var binary: String {
        URL(filePath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent().appending(path: "meshfl").path
    }

    func meshfl(_ arguments: [String], data: URL) throws -> (Int32, String, String) {
        try TestSupport.run("/usr/bin/env", ["MESHFL_DATA_DIR=\(data.path)", Self.binary] + arguments, timeout: 60)
    }

    @Test(.timeLimit(.minutes(2))) func putGetPresignAndServe() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "no meshfl binary at \(Self.binary); build with --build-tests")
        let dir = try TestSupport.temporaryDirectory("meshfl-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appending(path: "data")

        let hello = dir.appending(path: "hello.txt")
        try Data("hello world".utf8).write(to: hello)
        var (status, out, err) = try meshfl(["store", "put", hello.path], data: data)
        #expect(status == 0, "\(err)")
        #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e")

        let big = dir.appending(path: "big.bin")
        let bytes = TestSupport.bytes(2_500_000, seed: 9)
        try bytes.write(to: big)
        (status, out, err) = try meshfl(["store", "put", big.path, "--key", "jobs/1/big.bin"], data: data)
        #expect(status == 0, "\(err)")
        let root = try CID(parsing: out.trimmingCharacters(in: .whitespacesAndNewlines))
        let manifest = try Manifest(decoding: try BlockStore(directory: data.appending(path: "store")).get(root))
        #expect(manifest.blocks.count == 3)  // 1 MiB blocks: the CID is the manifest's

        let copy = dir.appending(path: "copy.bin")
        (status, _, err) = try meshfl(["store", "get", root.description, "--out", copy.path], data: data)
        #expect(status == 0, "\(err)")
        #expect(try Data(contentsOf: copy) == bytes)

        (status, _, err) = try meshfl(["store", "get", "bafkreinot", "--out", copy.path], data: data)
        #expect(status == 2)
        #expect(err.contains("meshfl: error:"))

        // serve on a free port, presign with the same data dir, fetch over HTTP
        let port = try LocalStack.freePort()
        let server = Process()
        server.executableURL = URL(filePath: Self.binary)
        server.arguments = ["store", "serve", "--port", String(port), "--data-dir", data.path]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { kill(server.processIdentifier, SIGTERM) }
        (status, out, err) = try meshfl(["store", "presign", "jobs/1/big.bin", "--endpoint", "http://127.0.0.1:\(port)", "--expires", "60"], data: data)
        #expect(status == 0, "\(err)")
        let url = try #require(URL(string: out.trimmingCharacters(in: .whitespacesAndNewlines)))
        var response: HTTPClient.Response?
        for _ in 0..<50 {  // up to ~10 s for the server to listen
            response = try? await BlobStoreTests.fetch(url, method: "GET")
            if response != nil { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(response?.status == 200)
        #expect(response?.body == bytes)
        #expect(try await BlobStoreTests.fetch(url, method: "PUT", body: Data("x".utf8)).status == 403)
    }
}
