import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MeshStorage
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `meshfl node --storage s3:CONFIG`: a requester keeping its jobs' objects in
/// a real LocalStack S3 (PyPI, host mode, signature validation on), trainers
/// moving every byte straight to and from the bucket — separate processes,
/// real sockets on 127.0.0.1. LocalStack missing is a failure, not a skip:
/// `scripts/setup` installs it.
@Suite(.serialized)
struct S3StorageJobTests {
    typealias CLI = TrainCommandTests
    typealias Jobs = NetworkJobTests

    let cli = CLI()
    let jobs = Jobs()
    static let credentials = ["AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"]

    /// A LocalStack S3 in its own process group, stopped by its pid.
    final class LocalStackProcess {
        let process = Process()
        let endpoint: URL

        init(directory: URL) async throws {
            let python = CLI.root.appendingPathComponent(".venv-localstack/bin/python").path
            guard FileManager.default.isExecutableFile(atPath: python) else {
                throw CLI.CLIFailure("LocalStack is not installed at \(python); run scripts/setup")
            }
            let port = try Jobs.freePort()
            endpoint = URL(string: "http://127.0.0.1:\(port)")!
            let data = directory.appendingPathComponent("localstack")
            try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
            let log = directory.appendingPathComponent("localstack.log").creatingFile()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [CLI.root.appendingPathComponent("tests/python/storage/localstack_server.py").path, String(port), data.path]
            process.standardOutput = try FileHandle(forWritingTo: log)
            process.standardError = try FileHandle(forWritingTo: log)
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline, process.isRunning {
                var request = URLRequest(url: endpoint.appendingPathComponent("_localstack/health"))
                request.timeoutInterval = 5
                if let (body, response) = try? await URLSession.shared.data(for: request),
                   (response as? HTTPURLResponse)?.statusCode == 200, String(decoding: body, as: UTF8.self).contains("\"s3\"") {
                    return
                }
                try await Task.sleep(for: .milliseconds(500))
            }
            stop()
            let tail = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").suffix(2000)
            throw CLI.CLIFailure("LocalStack did not become healthy on 127.0.0.1:\(port) within 120 s; log tail:\n\(tail)")
        }

        /// SIGTERM to the group (localstack_server.py calls setpgrp), SIGKILL after 10 s.
        func stop() {
            let pid = process.processIdentifier
            guard process.isRunning else { return }
            Glibc.kill(-pid, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning, Date() < deadline { usleep(100_000) }
            if process.isRunning { Glibc.kill(-pid, SIGKILL) }
            process.waitUntilExit()
        }

        deinit { stop() }
    }

    /// Runs `meshfl` with extra environment variables (and any of `removing` unset).
    func meshfl(_ arguments: [String], in directory: URL, environment: [String: String] = [:], removing: [String] = []) throws -> CLI.Result {
        let process = Process()
        process.executableURL = try CLI.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        for name in removing { merged[name] = nil }
        process.environment = merged
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLI.Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                          stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A job with its objects in S3: the requester publishes the staged shards
    /// and initial weights to the bucket, trainers' results land in the bucket
    /// (never in the requester's own store), the job finishes, and `meshfl fetch`
    /// reads the final weights from the bucket — weights `meshfl eval` loads.
    @Test(.timeLimit(.minutes(6)))
    func jobRunsWithItsObjectsInS3() async throws {
        let directory = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let localstack = try await LocalStackProcess(directory: directory)
        defer { localstack.stop() }
        try Data(#"{"endpoint": "\#(localstack.endpoint.absoluteString)", "region": "us-east-1", "bucket": "meshfl-jobs", "createBucket": true}"#.utf8)
            .write(to: directory.appendingPathComponent("cfg.json"))

        let requesterLog = directory.appendingPathComponent("requester.log")
        let requester = try Jobs.Node(["--role", "requester", "--data-dir", directory.appendingPathComponent("req").path,
                                       "--ledger", "local:" + directory.appendingPathComponent("dev.ledger").path, "--cores", "1",
                                       "--storage", "s3:" + directory.appendingPathComponent("cfg.json").path, "--log-level", "debug"],
                                      log: requesterLog, environment: Self.credentials)
        let job = try jobs.submit(directory, rounds: 2, shards: 2, samples: 1000, lease: 30, verify: 0)
        let a = try jobs.trainer("a", bootstrap: requester.address, in: directory, extra: ["--log-level", "debug"])
        let b = try jobs.trainer("b", bootstrap: requester.address, in: directory, extra: ["--log-level", "debug"])
        let done = try jobs.waitFor(job, dataDir: "req", in: directory, seconds: 180) { $0.status == "done" }
        #expect(done.accuracy.count == 2)
        #expect(done.trainers.reduce(0) { $0 + $1.accepted } == 4)

        let bucket = try S3BlobStore(endpoint: localstack.endpoint, region: "us-east-1", bucket: "meshfl-jobs",
                                     credentials: .init(accessKeyID: "test", secretAccessKey: "test"))
        let keys = Set(try await bucket.list(prefix: "jobs/\(job)/").map(\.key))
        // Accepted updates are the requester's own state: they live in its node.sqlite, not in the bucket.
        let expected = ["shards/0.shard", "shards/1.shard", "validation.shard", "rounds/0/global.safetensors", "rounds/1/global.safetensors",
                        "final.safetensors", "final.sealed"]
        for name in expected {
            #expect(keys.contains("jobs/\(job)/\(name)"), "\(name) should be in the bucket; it holds \(keys.sorted())")
        }
        // Results are uploaded only by trainers, only to their lease's presigned URL: in the bucket means the URLs were LocalStack's.
        let results = keys.filter { $0.hasPrefix("jobs/\(job)/results/") && $0.hasSuffix(".sealed") }
        #expect(results.count >= 4, "every accepted task's sealed result is in the bucket: \(keys.sorted())")
        let local = try LocalBlobStore(blocks: try BlockStore(directory: directory.appendingPathComponent("req/blocks")))
        #expect(try await local.list(prefix: "jobs/\(job)/results/").isEmpty, "no result went to the requester's own store")
        #expect(try await local.head(key: "jobs/\(job)/final.sealed") == nil, "the final weights live in the bucket only")
        let staged = try #require(try await local.head(key: "jobs/\(job)/shards/0.shard"))
        #expect(try await bucket.head(key: "jobs/\(job)/shards/0.shard")?.sha256 == staged.sha256, "the published shard is the staged one")
        // The trainers' leases named LocalStack (their debug line logs the result URL's host:port).
        let storage = "storage=127.0.0.1:\(localstack.endpoint.port!)"
        let leases = try [a, b].flatMap { try String(contentsOf: $0.log, encoding: .utf8).split(separator: "\n").filter { $0.contains("lease received") } }
        #expect(leases.count >= 4, "every task was leased: \(leases)")
        #expect(leases.allSatisfy { $0.contains(storage) }, "every lease's URLs are LocalStack's: \(leases)")
        let log = try String(contentsOf: requesterLog, encoding: .utf8)
        #expect(log.contains("job objects published"), "\(log.suffix(3000))")

        // fetch finds the bucket through the requester's note; it needs the credentials.
        let refused = try meshfl(["fetch", job, "--data-dir", "req", "--out", "w.safetensors"], in: directory,
                                 removing: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("AWS_ACCESS_KEY_ID"), "\(refused.stderr)")
        let fetched = try meshfl(["fetch", job, "--data-dir", "req", "--out", "w.safetensors"], in: directory, environment: Self.credentials)
        #expect(fetched.status == 0, "\(fetched.stderr)")
        let eval = try cli.meshfl(["eval", "--model", CLI.root.path + "/examples/mlp.json", "--weights", "w.safetensors", "--threads", "1"], in: directory)
        #expect(eval.status == 0, "meshfl eval loads the fetched weights: \(eval.stderr)")
        _ = (requester, a, b)
    }

    /// A requester whose job is already published (say, after a restart)
    /// copies nothing again: objects with the same SHA-256 are skipped; and
    /// it will not move the job to another bucket.
    @Test(.timeLimit(.minutes(4)))
    func republishingSkipsObjectsAlreadyInTheBucket() async throws {
        let directory = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let localstack = try await LocalStackProcess(directory: directory)
        defer { localstack.stop() }
        // Through the node config file's "storage" key, relative to the file.
        let requesterDir = directory.appendingPathComponent("req")
        try FileManager.default.createDirectory(at: requesterDir, withIntermediateDirectories: true)
        try Data(#"{"endpoint": "\#(localstack.endpoint.absoluteString)", "region": "us-east-1", "bucket": "again", "createBucket": true, "accessKeyIdEnv": "MY_S3_KEY", "secretAccessKeyEnv": "MY_S3_SECRET"}"#.utf8)
            .write(to: requesterDir.appendingPathComponent("s3.json"))
        try Data(#"{"role": "requester", "ledger": "local:../dev.ledger", "storage": "s3:s3.json", "cores": 1}"#.utf8)
            .write(to: requesterDir.appendingPathComponent("node.json"))
        let environment = ["MY_S3_KEY": "test", "MY_S3_SECRET": "test"]
        let job = try jobs.submit(directory, rounds: 1, shards: 2, samples: 500, lease: 30, verify: 0)
        for run in 1...2 {
            let log = directory.appendingPathComponent("requester-\(run).log")
            let requester = try Jobs.Node(["--data-dir", requesterDir.path], log: log, environment: environment)
            let deadline = Date().addingTimeInterval(60)
            var text = ""
            while Date() < deadline, !text.contains("job objects published") {
                try await Task.sleep(for: .milliseconds(200))
                text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            }
            requester.kill9()
            let line = try #require(text.split(separator: "\n").first { $0.contains("job objects published") }, "run \(run): \(text)")
            // shards 0 and 1, validation, initial weights
            #expect(line.contains(run == 1 ? "copied=4" : "copied=0"), "run \(run): \(line)")
            #expect(line.contains(run == 1 ? "alreadyThere=0" : "alreadyThere=4"), "run \(run): \(line)")
        }
        let bucket = try S3BlobStore(endpoint: localstack.endpoint, region: "us-east-1", bucket: "again",
                                     credentials: .init(accessKeyID: "test", secretAccessKey: "test"))
        #expect(try await bucket.list(prefix: "jobs/\(job)/").count == 4)

        // A job stays in the bucket it was published to: another bucket is refused, by name.
        try Data(#"{"endpoint": "\#(localstack.endpoint.absoluteString)", "region": "us-east-1", "bucket": "elsewhere", "createBucket": true}"#.utf8)
            .write(to: directory.appendingPathComponent("elsewhere.json"))
        let log = directory.appendingPathComponent("requester-elsewhere.log")
        let moved = try Jobs.Node(["--data-dir", requesterDir.path, "--storage", "s3:" + directory.appendingPathComponent("elsewhere.json").path],
                                  log: log, environment: Self.credentials)
        let deadline = Date().addingTimeInterval(30)
        var text = ""
        while Date() < deadline, !text.contains("was published to bucket") {
            try await Task.sleep(for: .milliseconds(200))
            text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        }
        moved.kill9()
        #expect(text.contains("job \(job) was published to bucket again at \(localstack.endpoint.absoluteString), not elsewhere"), "\(text.suffix(2000))")
        let elsewhere = try S3BlobStore(endpoint: localstack.endpoint, region: "us-east-1", bucket: "elsewhere",
                                        credentials: .init(accessKeyID: "test", secretAccessKey: "test"))
        #expect(try await elsewhere.list(prefix: "jobs/").isEmpty)
    }

    /// Bad storage settings stop the node before it starts (exit 2), naming the file and field.
    @Test(arguments: [
        ("cfg", #"{"endpoint": "http://127.0.0.1:4566", "region": "us-east-1", "bucket": "b"}"#, [:], "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        ("cfg", #"{"endpoint": "http://127.0.0.1:4566", "region": "us-east-1", "bucket": "b", "accessKeyIdEnv": "K"}"#,
         ["AWS_SECRET_ACCESS_KEY": "x"], "set K to the service's credentials"),
        ("cfg", #"{"endpoint": "http://127.0.0.1:4566", "region": "us-east-1""#, Self.credentials, "cfg.json is not a JSON object"),
        ("cfg", #"{"endpoint": "http://127.0.0.1:4566", "region": "us-east-1", "bukket": "b"}"#, Self.credentials, "unknown key \"bukket\""),
        ("cfg", #"{"endpoint": "http://127.0.0.1:4566", "region": "us-east-1"}"#, Self.credentials, "\"bucket\" is missing"),
        ("cfg", #"{"endpoint": "https://o3-rc2.akave.xyz", "region": "us-south-1", "bucket": "b"}"#, Self.credentials, "must be http://"),
        ("cfg", #"{"endpoint": "http://127.0.0.1:4566", "region": "us-east-1", "bucket": "b", "createBucket": "yes"}"#, Self.credentials,
         "\"createBucket\" should be true or false"),
        ("env", "", ["MESHFL_STORAGE": "s3:nowhere.json"] as [String: String], "cannot read the storage config nowhere.json"),
        ("env", "", ["MESHFL_STORAGE": "ipfs:x"] as [String: String], "storage ipfs:x: expected local:DIR or s3:CONFIG"),
    ] as [(String, String, [String: String], String)])
    func badStorageSettingsAreRefusedByName(source: String, config: String, environment: [String: String], expected: String) throws {
        let directory = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var arguments = ["node", "--role", "requester", "--data-dir", "d", "--ledger", "local:dev.ledger", "--duration", "1"]
        if source == "cfg" {
            try Data(config.utf8).write(to: directory.appendingPathComponent("cfg.json"))
            arguments += ["--storage", "s3:cfg.json"]
        }
        let result = try meshfl(arguments, in: directory, environment: environment,
                                removing: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MESHFL_STORAGE"].filter { environment[$0] == nil })
        #expect(result.status == 2)
        #expect(result.stderr.contains(expected), "stderr: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("d/node.sqlite").path), "nothing started")
    }
}
