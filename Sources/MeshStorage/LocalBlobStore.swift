public import Foundation
import Crypto
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A ``BlobStore`` on the node's own ``BlockStore`` directory: each object is
/// chunked into content-addressed blocks (pinned while the key exists), and a
/// small record `objects/<sha256(key)>.json` maps the key to its root CID, size,
/// SHA-256 and media type. ``PresignedServer`` serves it at presigned URLs.
///
/// ```swift
/// let local = try LocalBlobStore(blocks: try BlockStore(directory: dataDir),
///                                endpoint: URL(string: "http://127.0.0.1:8080")!,
///                                credentials: nodeKeys)
/// ```
public struct LocalBlobStore: BlobStore {
    /// One object's record on disk.
    struct Record: Codable, Sendable {
        var key: String
        var root: CID
        var size: Int64
        var sha256: String
        var contentType: String?
    }

    /// The blocks behind the objects.
    public let blocks: BlockStore
    /// The path-style bucket name in presigned URLs.
    public let bucket: String
    /// Where ``PresignedServer`` listens, for presigned URLs; nil if not served.
    public private(set) var endpoint: URL?
    /// The key pair presigned URLs are signed with.
    public let credentials: SigV4Credentials
    /// The region in presigned URLs' scope.
    public let region: String
    /// The block size new objects are chunked into.
    public let blockSize: Int
    /// The time source for presigning.
    let now: @Sendable () -> Date
    /// Objects kept in memory only (``stage(key:data:contentType:)``), shared by copies of this store.
    let staging: StagingArea

    let objectsPath: String

    /// Opens the object layer of a block store.
    public init(
        blocks: BlockStore, bucket: String = "meshfl", endpoint: URL? = nil,
        credentials: SigV4Credentials = .init(accessKeyID: "meshfl", secretAccessKey: "meshfl-local"),
        region: String = "us-east-1", blockSize: Int = Chunker.defaultBlockSize, stagingLimit: Int = 256 << 20,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        self.blocks = blocks
        self.bucket = bucket
        self.endpoint = endpoint
        self.credentials = credentials
        self.region = region
        self.blockSize = blockSize
        self.staging = StagingArea(limit: stagingLimit)
        self.now = now
        objectsPath = blocks.directory.path + "/objects"
        try FileOps.makeDirectory(objectsPath)
    }

    static func keyDigest(_ key: String) -> String { SigV4Signer.sha256Hex(Data(key.utf8)) }
    func recordPath(_ key: String) -> String { objectsPath + "/" + Self.keyDigest(key) + ".json" }
    static func holder(_ key: String) -> String { "obj-" + keyDigest(key).prefix(40) }

    func record(_ key: String) throws -> Record? {
        guard let data = try FileOps.read(recordPath(key)) else { return nil }
        do {
            return try JSONDecoder().decode(Record.self, from: data)
        } catch {
            throw StorageError(code: .io, message: "object record for '\(key)' is unreadable; delete and re-upload the object", cause: error)
        }
    }

    static func info(_ record: Record) -> BlobInfo {
        BlobInfo(key: record.key, size: record.size, sha256: record.sha256, contentType: record.contentType)
    }

    /// Stores the file as `key` (synchronously; also used by the server).
    func importFile(key: String, path: String, contentType: String?, durability: Durability = .synced) throws -> BlobInfo {
        try Self.validate(key: key)
        _ = staging.remove(key)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StorageError(code: .notFound, message: "cannot open \(path) for reading; check the path")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        let holder = Self.holder(key)
        let previous = try record(key)
        let stored = try blocks.putStream(handle, blockSize: blockSize, mediaType: contentType ?? "application/octet-stream",
                                          metadata: ["key": key], holder: holder, durability: durability, observe: { hasher.update(data: $0) })
        return try commitRecord(key: key, stored: stored, sha256: SigV4Signer.hex(hasher.finalize()), contentType: contentType,
                                previous: previous, durability: durability)
    }

    /// Keeps `data` as `key` in memory only — gone when the process exits —
    /// for objects read once and dropped (a trainer's sealed result, which
    /// the requester verifies, keeps the plaintext of in node.sqlite, and
    /// deletes). Nil when the staging area is full: store it on disk instead.
    public func stage(key: String, data: Data, contentType: String?) throws -> BlobInfo? {
        try Self.validate(key: key)
        let info = BlobInfo(key: key, size: Int64(data.count), sha256: SigV4Signer.sha256Hex(data), contentType: contentType)
        guard staging.put(key, data: data, info: info) else { return nil }
        if let previous = try record(key) {
            // A staged object replaces a stored one under the same key.
            unlink(recordPath(key))
            blocks.unpin(previous.root, holder: Self.holder(key))
        }
        return info
    }

    /// This store served at `endpoint` (presigned URLs name it): the same blocks and staged objects.
    public func served(at endpoint: URL) -> LocalBlobStore {
        var copy = self
        copy.endpoint = endpoint
        return copy
    }

    /// Stores in-memory bytes as `key`: no temp file, fsynced only when `durability` says so.
    public func put(key: String, data: Data, contentType: String?, durability: Durability) async throws -> BlobInfo {
        try store(key: key, data: data, contentType: contentType, durability: durability)
    }

    /// ``put(key:data:contentType:durability:)`` for callers that cannot await (the server's event loop).
    func store(key: String, data: Data, contentType: String?, durability: Durability) throws -> BlobInfo {
        try Self.validate(key: key)
        _ = staging.remove(key)
        let previous = try record(key)
        let stored = try blocks.putData(data, blockSize: blockSize, mediaType: contentType ?? "application/octet-stream",
                                        metadata: ["key": key], holder: Self.holder(key), durability: durability)
        return try commitRecord(key: key, stored: stored, sha256: SigV4Signer.sha256Hex(data), contentType: contentType,
                                previous: previous, durability: durability)
    }

    /// Points `key` at `stored` (record file written atomically) and lets go of the object it replaced.
    func commitRecord(key: String, stored: StoredFile, sha256: String, contentType: String?, previous: Record?,
                      durability: Durability) throws -> BlobInfo {
        let record = Record(key: key, root: stored.root, size: stored.manifest.totalSize, sha256: sha256, contentType: contentType)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let temp = try FileOps.writeTemp(try encoder.encode(record), in: blocks.tempPath, durability: durability)
        try FileOps.commit(temp, to: recordPath(key), durability: durability)
        if let previous, previous.root != record.root { blocks.unpin(previous.root, holder: Self.holder(key)) }
        return Self.info(record)
    }

    /// Chunks the file into the block store (streaming) and records the key; see ``BlobStore/put(key:file:contentType:)``.
    public func put(key: String, file: URL, contentType: String?) async throws -> BlobInfo {
        try importFile(key: key, path: file.path, contentType: contentType)
    }

    /// Writes the object to `file`, every block checked against its CID.
    public func get(key: String, to file: URL) async throws -> BlobInfo {
        if let (data, info) = staging.get(key) {
            try data.write(to: file)
            return info
        }
        guard let record = try record(key) else {
            throw StorageError(code: .notFound, message: "no object '\(key)' in the local store")
        }
        // Every block is checked against its CID on the way out.
        try blocks.exportFile(record.root, to: file)
        return Self.info(record)
    }

    /// The object in memory, every block checked against its CID: no temp file, no fsync.
    public func get(key: String) async throws -> Data {
        if let (data, _) = staging.get(key) { return data }
        guard let record = try record(key) else {
            throw StorageError(code: .notFound, message: "no object '\(key)' in the local store")
        }
        return try blocks.read(record.root)
    }

    /// The object's record, or nil.
    public func head(key: String) async throws -> BlobInfo? {
        if let (_, info) = staging.get(key) { return info }
        return try record(key).map(Self.info)
    }

    /// Removes the key and its pin; blocks go at the next garbage collection.
    public func delete(key: String) async throws {
        if staging.remove(key) { return }
        guard let record = try record(key) else { return }
        unlink(recordPath(key))
        blocks.unpin(record.root, holder: Self.holder(key))
    }

    /// Objects whose keys start with `prefix`, sorted by key.
    public func list(prefix: String) async throws -> [BlobInfo] {
        FileOps.list(objectsPath)
            .compactMap { name -> Record? in
                guard name.hasSuffix(".json"), let data = try? FileOps.read(objectsPath + "/" + name) else { return nil }
                return try? JSONDecoder().decode(Record.self, from: data)
            }
            .filter { $0.key.hasPrefix(prefix) }
            .sorted { $0.key < $1.key }
            .map(Self.info)
    }

    /// A URL ``PresignedServer`` at ``endpoint`` accepts until it expires.
    public func presignedURL(key: String, method: PresignedMethod, expires: Int, contentType: String?) throws -> URL {
        try Self.validate(key: key)
        try Self.validate(expires: expires)
        guard let endpoint else {
            throw StorageError(code: .invalidArgument, message: "this LocalBlobStore has no endpoint; start a PresignedServer and pass its URL to presign")
        }
        return try S3Addressing(endpoint: endpoint, bucket: bucket)
            .presignedURL(key: key, method: method.rawValue, expires: expires, contentType: contentType,
                          signer: SigV4Signer(credentials: credentials, region: region), date: now())
    }
}

/// Objects a ``LocalBlobStore`` keeps in memory only, up to ``limit`` bytes in all.
final class StagingArea: Sendable {
    /// The most bytes staged at once (past it, ``put(_:data:info:)`` says no).
    let limit: Int
    private let state = NIOLockedValueBox<(objects: [String: (data: Data, info: BlobInfo)], bytes: Int)>(([:], 0))

    init(limit: Int = 256 << 20) {
        self.limit = limit
    }

    func put(_ key: String, data: Data, info: BlobInfo) -> Bool {
        state.withLockedValue { state in
            let replaced = state.objects[key]?.data.count ?? 0
            guard state.bytes - replaced + data.count <= limit else { return false }
            state.objects[key] = (data, info)
            state.bytes += data.count - replaced
            return true
        }
    }

    func get(_ key: String) -> (data: Data, info: BlobInfo)? {
        state.withLockedValue { $0.objects[key] }
    }

    /// Drops `key`; false if it was not staged.
    func remove(_ key: String) -> Bool {
        state.withLockedValue { state in
            guard let removed = state.objects.removeValue(forKey: key) else { return false }
            state.bytes -= removed.data.count
            return true
        }
    }

    /// Bytes staged now.
    var bytes: Int { state.withLockedValue { $0.bytes } }
}
