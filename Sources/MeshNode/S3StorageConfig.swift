public import Foundation
public import MeshStorage

/// The JSON file of `meshfl node --storage s3:CONFIG`: which S3-compatible
/// bucket a requester keeps its jobs' objects in. Credentials never go in the
/// file; they come from the environment (`AWS_ACCESS_KEY_ID` /
/// `AWS_SECRET_ACCESS_KEY`, or the variables `accessKeyIdEnv` /
/// `secretAccessKeyEnv` name).
///
/// ```json
/// {"endpoint": "http://127.0.0.1:4566", "region": "us-east-1", "bucket": "meshfl", "createBucket": true}
/// ```
///
/// Akave O3: `{"endpoint": "http://127.0.0.1:8443", "region": "us-south-1", "bucket": "…"}`
/// where `127.0.0.1:8443` is a local TLS proxy (stunnel, socat) to
/// `https://o3-rc2.akave.xyz` — see docs/storage.md.
public struct S3StorageConfig: Codable, Sendable, Equatable {
    /// The service's `http://host:port` (path-style requests).
    public var endpoint: String
    /// The region requests are signed for.
    public var region: String
    /// The bucket job objects go in.
    public var bucket: String
    /// Create the bucket at start (no error when this account owns it already).
    public var createBucket: Bool?
    /// The variable holding the access key id (default `AWS_ACCESS_KEY_ID`).
    public var accessKeyIdEnv: String?
    /// The variable holding the secret key (default `AWS_SECRET_ACCESS_KEY`).
    public var secretAccessKeyEnv: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case endpoint, region, bucket, createBucket, accessKeyIdEnv, secretAccessKeyEnv
    }

    /// Creates a configuration.
    public init(endpoint: String, region: String, bucket: String, createBucket: Bool? = nil,
                accessKeyIdEnv: String? = nil, secretAccessKeyEnv: String? = nil) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.createBucket = createBucket
        self.accessKeyIdEnv = accessKeyIdEnv
        self.secretAccessKeyEnv = secretAccessKeyEnv
    }

    /// Reads and checks a config file: a JSON object with only the known keys,
    /// `endpoint`, `region` and `bucket` present, an `http://` endpoint.
    ///
    /// - Throws: ``NodeError/Code/invalidInput`` naming the file and the field.
    public static func load(_ path: String) throws -> S3StorageConfig {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw NodeError(.invalidInput, "cannot read the storage config \(path): \(error.localizedDescription); pass --storage s3:FILE with a readable JSON file")
        }
        return try decode(data, source: path)
    }

    /// Checks a config document; `source` names it in errors.
    public static func decode(_ data: Data, source: String) throws -> S3StorageConfig {
        let example = #"{"endpoint": "http://127.0.0.1:4566", "region": "us-east-1", "bucket": "meshfl"}"#
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw NodeError(.invalidInput, "storage config \(source) is not a JSON object; write e.g. \(example)")
        }
        let known = CodingKeys.allCases.map(\.rawValue)
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw NodeError(.invalidInput, "storage config \(source): unknown key \"\(unknown)\"; known keys: \(known.joined(separator: ", "))")
        }
        for field in [CodingKeys.endpoint, .region, .bucket] where object[field.rawValue] == nil {
            throw NodeError(.invalidInput, "storage config \(source): \"\(field.rawValue)\" is missing; write e.g. \(example)")
        }
        let config: S3StorageConfig
        do { config = try JSONDecoder().decode(S3StorageConfig.self, from: data) } catch let DecodingError.typeMismatch(type, context) {
            let kind = type == Bool.self ? "true or false" : "a string"
            throw NodeError(.invalidInput, "storage config \(source): \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" should be \(kind)")
        } catch {
            throw NodeError(.invalidInput, "storage config \(source): \(error)")
        }
        try config.check(source: source)
        return config
    }

    func check(source: String) throws {
        guard let url = URL(string: endpoint), let host = url.host, !host.isEmpty, url.path.isEmpty || url.path == "/" else {
            throw NodeError(.invalidInput, "storage config \(source): \"endpoint\" \(endpoint) should look like http://127.0.0.1:4566")
        }
        guard url.scheme == "http" else {
            throw NodeError(.invalidInput, "storage config \(source): \"endpoint\" \(endpoint) must be http://; for https services such as Akave O3 run a local TLS proxy and give its http://127.0.0.1:PORT")
        }
        guard !region.isEmpty else { throw NodeError(.invalidInput, "storage config \(source): \"region\" is empty") }
        guard !bucket.isEmpty, !bucket.contains("/") else {
            throw NodeError(.invalidInput, "storage config \(source): \"bucket\" '\(bucket)' is not a bucket name")
        }
        for name in [accessKeyIdEnv, secretAccessKeyEnv].compactMap({ $0 }) where name.isEmpty {
            throw NodeError(.invalidInput, "storage config \(source): an empty environment variable name; drop the key to use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY")
        }
    }

    /// The key pair from the environment.
    ///
    /// - Throws: ``NodeError/Code/invalidInput`` naming the variables to set.
    public func credentials(from environment: [String: String]) throws -> SigV4Credentials {
        let idName = accessKeyIdEnv ?? "AWS_ACCESS_KEY_ID"
        let secretName = secretAccessKeyEnv ?? "AWS_SECRET_ACCESS_KEY"
        let missing = [idName, secretName].filter { (environment[$0] ?? "").isEmpty }
        guard missing.isEmpty else {
            throw NodeError(.invalidInput, "S3 storage at \(endpoint) bucket \(bucket): set \(missing.joined(separator: " and ")) to the service's credentials (LocalStack: test / test)")
        }
        return SigV4Credentials(accessKeyID: environment[idName]!, secretAccessKey: environment[secretName]!)
    }

    /// A store for the bucket, with credentials from `environment` (the bucket is not touched).
    public func store(environment: [String: String]) throws -> S3BlobStore {
        let credentials = try credentials(from: environment)
        do {
            return try S3BlobStore(endpoint: URL(string: endpoint)!, region: region, bucket: bucket, credentials: credentials)
        } catch let error as StorageError {
            throw NodeError(.invalidInput, "S3 storage: \(error.message)")
        }
    }
}
