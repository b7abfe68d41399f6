public import Foundation
public import Gossipsub
public import Libp2p
public import Logging
public import MeshLedger
public import MeshStorage
import Crypto

extension Requester {
    /// A requester whose job objects stay in the data directory's store (``JobStorage/local(_:)``).
    public init(host: Libp2p.Host, identity: PrivateKey, directory: NodeDirectory, blobs: LocalBlobStore, ledger: LocalLedger,
                account: LedgerOperator, pubsub: GossipsubService?, logger: Logger, metrics: NodeMetrics = NodeMetrics(role: .requester),
                now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) throws {
        try self.init(host: host, identity: identity, directory: directory, storage: .local(blobs), ledger: ledger, account: account,
                      pubsub: pubsub, logger: logger, metrics: metrics, now: now)
    }

    /// Copies a job's objects from the local store `meshfl submit` staged them
    /// in to the configured bucket, before any lease can name them. Idempotent:
    /// an object already there with the same SHA-256 is skipped, so a restart
    /// (or a job that moved from local to S3 storage mid-way) costs one HEAD per object.
    ///
    /// A note of the bucket goes to the local store first (``JobStorage/publishedKey(_:)``)
    /// so `meshfl fetch` reads the final weights from the bucket.
    ///
    /// - Throws: ``NodeError/Code/invalidInput`` when the job was published to
    ///   another bucket before (a job stays where it started); storage errors as they come.
    func publish(_ job: String) async throws {
        guard let remote = storage.remote else { return }
        let local = storage.local
        let noteKey = JobStorage.publishedKey(job)
        if try await local.head(key: noteKey) != nil {
            let previous = try S3StorageConfig.decode(try await local.get(key: noteKey), source: "the note \(noteKey)")
            guard previous.endpoint == remote.endpoint, previous.bucket == remote.bucket else {
                throw NodeError(.invalidInput, "job \(job) was published to bucket \(previous.bucket) at \(previous.endpoint), not \(remote.bucket) at \(remote.endpoint); "
                                + "run the requester with that storage until the job is done")
            }
        } else {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            _ = try await local.put(key: noteKey, data: try encoder.encode(remote), contentType: "application/json")
        }
        let started = ContinuousClock.now
        var copied = 0, skipped = 0
        var bytes: Int64 = 0
        let temp = FileManager.default.temporaryDirectory.appending(path: "meshfl-publish-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: temp) }
        for object in try await local.list(prefix: "jobs/\(job)/") {
            if let there = try await blobs.head(key: object.key), there.sha256 != nil, there.sha256 == object.sha256 {
                skipped += 1
                continue
            }
            let info = try await local.get(key: object.key, to: temp)
            _ = try await blobs.put(key: object.key, file: temp, contentType: object.contentType)
            copied += 1
            bytes += info.size
        }
        logger.info("job objects published", metadata: [
            "job": "\(job)", "bucket": "\(remote.bucket)", "endpoint": "\(remote.endpoint)", "copied": "\(copied)",
            "alreadyThere": "\(skipped)", "bytes": "\(bytes)", "seconds": "\((ContinuousClock.now - started) / .seconds(1))",
        ])
    }
}
