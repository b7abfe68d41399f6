import Foundation
import NIOCore
import NIOPosix
@testable import MeshStorage

/// A LocalStack S3 (PyPI `localstack-core`, host mode) started for one test and
/// stopped by its pid (its process group). Start-up waits at most 120 s.
final class LocalStack: Sendable {
    let pid: Int32
    let endpoint: URL
    let log: URL

    init(pid: Int32, endpoint: URL, log: URL) {
        self.pid = pid
        self.endpoint = endpoint
        self.log = log
    }

    static func freePort() throws -> Int {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).wait()
        let port = channel.localAddress!.port!
        try channel.close().wait()
        return port
    }

    static func start(directory: URL) async throws -> LocalStack {
        let python = TestSupport.repoRoot.appending(path: ".venv-localstack/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw StorageError(code: .notFound, message: "LocalStack is not installed at \(python); run scripts/setup (it needs Python >= 3.12)")
        }
        let port = try freePort()
        let data = directory.appending(path: "localstack")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let log = directory.appending(path: "localstack.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = URL(filePath: python)
        process.arguments = [TestSupport.repoRoot.appending(path: "tests/python/storage/localstack_server.py").path, String(port), data.path]
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let instance = LocalStack(pid: process.processIdentifier, endpoint: URL(string: "http://127.0.0.1:\(port)")!, log: log)
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { break }
            var probe = HTTPClient()
            probe.timeout = .seconds(5)
            if let response = try? await probe.execute(method: "GET", host: "127.0.0.1", port: port, target: "/_localstack/health", headers: []),
               response.status == 200, String(decoding: response.body, as: UTF8.self).contains("\"s3\"") {
                return instance
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        instance.stop()
        let tail = (try? String(contentsOf: log, encoding: .utf8))?.suffix(2000) ?? ""
        throw StorageError(code: .http, message: "LocalStack did not become healthy on 127.0.0.1:\(port) within 120 s; log tail:\n\(tail)")
    }

    /// Stops the LocalStack process group: SIGTERM, then SIGKILL after 10 s.
    func stop() {
        kill(-pid, SIGTERM)
        kill(pid, SIGTERM)
        for _ in 0..<100 {
            if kill(pid, 0) != 0 { return }  // gone (reaped by Foundation's Process)
            usleep(100_000)
        }
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
    }
}
