public import Foundation
public import MeshStorage

/// Where a requester keeps its jobs' objects — shards, global weights per
/// round, trainers' sealed results, accepted updates, final weights — and so
/// where the presigned URLs of its leases point.
///
/// - ``local(_:)``: the data directory's block store, served by the node's
///   ``PresignedServer`` (the default).
/// - ``s3(_:environment:)``: an S3-compatible bucket (Akave O3 through a TLS
///   proxy, AWS, MinIO, LocalStack). `meshfl submit` still stages a job in the
///   local store; the requester copies it to the bucket when it adopts the job
///   (Requester+Publish.swift), and trainers then move every byte straight to
///   and from the bucket. No PresignedServer runs: nothing is served locally.
///
/// Either way the local store keeps what is not a job object: the evidence
/// documents of slashes (by CID, in its blocks) and, for S3, a note per job
/// of the bucket it went to (``publishedKey(_:)``) so `meshfl fetch` finds it.
public struct JobStorage: Sendable {
    /// Where job objects live and leases point.
    public let objects: any BlobStore
    /// The data directory's object store: `meshfl submit`'s staging area and home of the evidence blocks.
    public let local: LocalBlobStore
    /// The bucket, when ``objects`` is S3.
    public let remote: S3StorageConfig?

    /// Job objects in the local store itself.
    public static func local(_ store: LocalBlobStore) -> JobStorage {
        JobStorage(objects: store, local: store, remote: nil)
    }

    /// Job objects in the bucket of `config` (created first when `createBucket` says so).
    ///
    /// - Throws: ``NodeError/Code/invalidInput`` when credentials are missing or the bucket is unreachable.
    public static func s3(_ config: S3StorageConfig, local: LocalBlobStore,
                          environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> JobStorage {
        let store = try config.store(environment: environment)
        if config.createBucket == true {
            do { try await store.createBucket() } catch let error as StorageError {
                throw NodeError(.invalidInput, "cannot create bucket \(config.bucket) at \(config.endpoint): \(error.message)")
            }
        }
        return JobStorage(objects: store, local: local, remote: config)
    }

    /// The local key of the note saying which bucket a job's objects were published to.
    public static func publishedKey(_ job: String) -> String { "published/\(job).json" }

    /// Where a job's objects are, as `meshfl fetch` sees it: the local store,
    /// unless the requester published the job to a bucket.
    ///
    /// - Throws: ``NodeError/Code/invalidInput`` when the bucket's credentials are not in `environment`.
    public static func forJob(_ job: String, local: LocalBlobStore,
                              environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> any BlobStore {
        guard let note = try await local.head(key: publishedKey(job)) else { return local }
        let data = try await local.get(key: note.key)
        let config = try S3StorageConfig.decode(data, source: "the note \(note.key) in the local store")
        return try config.store(environment: environment)
    }
}

/// The `storage` setting of a node: `local:DIR` or `s3:CONFIG`.
public enum StorageSetting: Sendable, Equatable {
    /// The node's own block store: `<data dir>/blocks`, or `DIR` when given
    /// (the data directory then links `blocks` to it; see ``NodeDirectory/placeBlocks(at:)``).
    case local(directory: String?)
    /// An S3-compatible bucket, described by the config file at `path`.
    case s3(path: String, config: S3StorageConfig)

    /// Parses and checks the setting, reading an `s3:` config file and
    /// checking that its credentials are in `environment`.
    ///
    /// - Throws: ``NodeError/Code/invalidInput`` naming the file and field.
    public static func parse(_ text: String, environment: [String: String]) throws -> StorageSetting {
        if text.hasPrefix("local:") {
            let directory = String(text.dropFirst("local:".count))
            return .local(directory: directory.isEmpty ? nil : (directory as NSString).expandingTildeInPath)
        }
        if text.hasPrefix("s3:") {
            let path = String(text.dropFirst("s3:".count))
            guard !path.isEmpty else {
                throw NodeError(.invalidInput, "storage s3: needs a config file, e.g. s3:storage.json with {\"endpoint\": …, \"region\": …, \"bucket\": …}")
            }
            let config = try S3StorageConfig.load(path)
            _ = try config.credentials(from: environment)
            return .s3(path: path, config: config)
        }
        throw NodeError(.invalidInput, "storage \(text): expected local:DIR or s3:CONFIG")
    }
}
