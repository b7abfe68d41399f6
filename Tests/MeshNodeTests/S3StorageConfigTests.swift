import Foundation
import Testing
@testable import MeshNode
import MeshStorage

struct S3StorageConfigTests {
    let credentials = ["AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"]

    @Test func aConfigFileGivesTheBucketAndTheEnvironmentTheKeys() throws {
        let config = try S3StorageConfig.decode(Data(#"{"endpoint": "http://127.0.0.1:4566", "region": "us-east-1", "bucket": "meshfl", "createBucket": true}"#.utf8),
                                                source: "s3.json")
        #expect(config == S3StorageConfig(endpoint: "http://127.0.0.1:4566", region: "us-east-1", bucket: "meshfl", createBucket: true))
        let keys = try config.credentials(from: credentials)
        #expect(keys.accessKeyID == "test" && keys.secretAccessKey == "test")
        let store = try config.store(environment: credentials)
        #expect(store.addressing.host == "127.0.0.1" && store.addressing.port == 4566 && store.addressing.bucket == "meshfl")

        var named = config
        named.accessKeyIdEnv = "AKAVE_KEY"
        named.secretAccessKeyEnv = "AKAVE_SECRET"
        let error = try #require(throws: NodeError.self) { try named.credentials(from: credentials) }
        #expect(error.message.contains("set AKAVE_KEY and AKAVE_SECRET"))
        #expect(try named.credentials(from: ["AKAVE_KEY": "k", "AKAVE_SECRET": "s"]).accessKeyID == "k")
    }

    @Test(arguments: [
        (#"{"endpoint": "http://h:1", "region": "r"}"#, "\"bucket\" is missing"),
        (#"{"endpoint": "http://h:1", "region": "r", "bucket": "b", "secretKey": "x"}"#, "unknown key \"secretKey\""),
        (#"{"endpoint": "ftp://h:1", "region": "r", "bucket": "b"}"#, "must be http://"),
        (#"{"endpoint": "http://h:1/path", "region": "r", "bucket": "b"}"#, "should look like http://127.0.0.1:4566"),
        (#"{"endpoint": "http://h:1", "region": "", "bucket": "b"}"#, "\"region\" is empty"),
        (#"{"endpoint": "http://h:1", "region": "r", "bucket": "a/b"}"#, "is not a bucket name"),
        (#"{"endpoint": 4566, "region": "r", "bucket": "b"}"#, "\"endpoint\" should be a string"),
        (#"not json"#, "is not a JSON object"),
    ])
    func badConfigsNameTheFileAndField(json: String, expected: String) throws {
        let error = try #require(throws: NodeError.self) { try S3StorageConfig.decode(Data(json.utf8), source: "cfg.json") }
        #expect(error.code == .invalidInput)
        #expect(error.message.contains("cfg.json") && error.message.contains(expected), "\(error.message)")
    }

    @Test func settingsParseLocalAndS3AndConfigFilePathsAreRelativeToTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshfl-s3cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(#"{"endpoint": "http://127.0.0.1:4566", "region": "us-east-1", "bucket": "meshfl"}"#.utf8)
            .write(to: directory.appendingPathComponent("s3.json"))
        try Data(#"{"role": "requester", "storage": "s3:s3.json"}"#.utf8).write(to: directory.appendingPathComponent("node.json"))
        let file = try NodeConfiguration.load(directory.appendingPathComponent("node.json").path)
        let path = directory.appendingPathComponent("s3.json").path
        #expect(file.storage == "s3:" + path)
        guard case .s3(let parsedPath, let config) = try StorageSetting.parse(file.storage!, environment: credentials) else {
            Issue.record("s3: should parse as S3 storage")
            return
        }
        #expect(parsedPath == path && config.bucket == "meshfl")
        #expect(try StorageSetting.parse("local:/data", environment: [:]) == .local(directory: "/data"))
        #expect(try StorageSetting.parse("local:", environment: [:]) == .local(directory: nil))
        let noKeys = try #require(throws: NodeError.self) { try StorageSetting.parse(file.storage!, environment: [:]) }
        #expect(noKeys.message.contains("AWS_ACCESS_KEY_ID"))
        let unknown = try #require(throws: NodeError.self) { try StorageSetting.parse("gcs:x", environment: [:]) }
        #expect(unknown.message == "storage gcs:x: expected local:DIR or s3:CONFIG")
    }
}
