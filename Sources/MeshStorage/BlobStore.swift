public import Foundation

/// What a presigned URL lets its holder do.
public enum PresignedMethod: String, Sendable {
    /// Download the object.
    case get = "GET"
    /// Upload (replace) the object.
    case put = "PUT"
}

/// What a store knows about one object.
public struct BlobInfo: Sendable, Equatable {
    /// The object's key.
    public var key: String
    /// Its length in bytes.
    public var size: Int64
    /// Our own SHA-256 of the content (lower-case hex), stored as object
    /// metadata — an S3 ETag is not a hash. Nil when the store did not record one
    /// (e.g. in listings, or for objects written by other tools).
    public var sha256: String?
    /// The media type, when known.
    public var contentType: String?

    /// Creates a description.
    public init(key: String, size: Int64, sha256: String?, contentType: String?) {
        self.key = key
        self.size = size
        self.sha256 = sha256
        self.contentType = contentType
    }
}

/// Object storage behind one trainer code path: the node's own disk
/// (``LocalBlobStore``, served at presigned URLs by ``PresignedServer``) or an
/// S3-compatible service (``S3BlobStore``: Akave O3, AWS, MinIO, LocalStack).
/// Bodies stream from and to files; a whole blob is never held in memory.
///
/// ```swift
/// let store: any BlobStore = try LocalBlobStore(blocks: blocks)
/// _ = try await store.put(key: "jobs/7/shard-0", file: shard, contentType: nil)
/// let url = try store.presignedURL(key: "jobs/7/shard-0", method: .get, expires: 3600, contentType: nil)
/// ```
public protocol BlobStore: Sendable {
    /// Uploads the file at `file` as `key`, replacing any object there.
    func put(key: String, file: URL, contentType: String?) async throws -> BlobInfo
    /// Uploads in-memory bytes as `key`; `durability` matters only to a store
    /// on this node's disk (a remote service's durability is its own).
    func put(key: String, data: Data, contentType: String?, durability: Durability) async throws -> BlobInfo
    /// Downloads `key` into `file` (atomically), checking it against the stored SHA-256.
    func get(key: String, to file: URL) async throws -> BlobInfo
    /// Downloads a small object into memory (the default goes through a temp file).
    func get(key: String) async throws -> Data
    /// The object's description, or nil when there is none.
    func head(key: String) async throws -> BlobInfo?
    /// Deletes `key`; deleting a missing key succeeds.
    func delete(key: String) async throws
    /// Objects whose keys start with `prefix`, sorted by key.
    func list(prefix: String) async throws -> [BlobInfo]
    /// A URL that lets anyone holding it GET or PUT `key` until it expires,
    /// `expires` seconds from now; a signed `contentType` must be sent as-is with a PUT.
    func presignedURL(key: String, method: PresignedMethod, expires: Int, contentType: String?) throws -> URL
}

extension BlobStore {
    /// Uploads in-memory bytes, durably where that is this store's choice.
    public func put(key: String, data: Data, contentType: String? = nil) async throws -> BlobInfo {
        try await put(key: key, data: data, contentType: contentType, durability: .synced)
    }

    /// Uploads small in-memory bytes through a temp file (stores that stream from files).
    public func put(key: String, data: Data, contentType: String?, durability: Durability) async throws -> BlobInfo {
        let temp = FileManager.default.temporaryDirectory.appending(path: "meshfl-put-\(UUID().uuidString)")
        try data.write(to: temp)
        defer { try? FileManager.default.removeItem(at: temp) }
        return try await put(key: key, file: temp, contentType: contentType)
    }

    /// Downloads a small object into memory (through a temp file).
    public func get(key: String) async throws -> Data {
        let temp = FileManager.default.temporaryDirectory.appending(path: "meshfl-get-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: temp) }
        _ = try await get(key: key, to: temp)
        return try Data(contentsOf: temp)
    }

    /// Checks an object key: non-empty, at most 1024 bytes, no NUL, no `..` segment.
    static func validate(key: String) throws {
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        guard !key.isEmpty, key.utf8.count <= 1024, !key.contains("\0"), !key.hasPrefix("/"),
              !segments.contains("..") else {
            throw StorageError(code: .invalidArgument, message: "object key '\(key.prefix(80))' is invalid; use 1–1024 bytes of safe characters such as jobs/7/shard-0, without a leading '/' or '..'")
        }
    }

    /// Checks a presign lifetime.
    static func validate(expires: Int) throws {
        guard (1...SigV4Signer.maxExpires).contains(expires) else {
            throw StorageError(code: .invalidArgument, message: "presigned URLs live 1…\(SigV4Signer.maxExpires) seconds, not \(expires)")
        }
    }
}
