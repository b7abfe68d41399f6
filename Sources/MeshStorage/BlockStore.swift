public import Foundation

/// Content-addressed blocks in one directory on disk, shared safely by several
/// processes.
///
/// Layout: `blocks/<xy>/<cid>` (the last two characters of the CID shard the
/// directory), `pins/<cid>/<holder>`, `tmp/`, and two lock files. Writes go to
/// `tmp/`, are fsynced (unless a write asks for ``Durability/buffered``) and
/// renamed into place, so a reader sees a whole block or none; every read is checked against its CID. Writers take `gc.lock`
/// shared, garbage collection takes it exclusive; quota checks are serialised
/// by `write.lock`.
///
/// ```swift
/// let store = try BlockStore(directory: URL(filePath: "/var/lib/meshfl"))
/// let cid = try store.put(Data("hello world".utf8))
/// try store.pin(cid)
/// let bytes = try store.get(cid)
/// ```
public final class BlockStore: Sendable {
    /// The store's root directory.
    public let directory: URL
    /// The most bytes of blocks the store may hold, or nil for no limit.
    public let quota: Int64?

    let blocksPath: String
    let pinsPath: String
    let tempPath: String
    let gcLockPath: String
    let writeLockPath: String

    /// Opens (creating if needed) a store in `directory`.
    public init(directory: URL, quota: Int64? = nil) throws {
        self.directory = directory
        self.quota = quota
        let root = directory.path
        blocksPath = root + "/blocks"
        pinsPath = root + "/pins"
        tempPath = root + "/tmp"
        gcLockPath = root + "/gc.lock"
        writeLockPath = root + "/write.lock"
        for path in [blocksPath, pinsPath, tempPath] { try FileOps.makeDirectory(path) }
    }

    func path(of cid: CID) -> String {
        let name = cid.description
        return blocksPath + "/" + name.suffix(2) + "/" + name
    }

    /// Stores a block and returns its CID; storing a block that is present is a no-op.
    ///
    /// - Complexity: O(n) in the block's size, plus O(blocks) when a quota is set.
    @discardableResult
    public func put(_ block: Data, durability: Durability = .synced) throws -> CID {
        try FileOps.withLock(gcLockPath, exclusive: false) { try putLocked(block, durability: durability) }
    }

    /// Stores a block that must hash to `cid`; throws ``StorageError/Code/corruptBlock`` otherwise.
    public func put(_ block: Data, as cid: CID) throws {
        guard cid.matches(block) else {
            throw StorageError(code: .corruptBlock, message: "the block does not hash to \(cid); it was corrupted in transit or by its sender — fetch it again from another source")
        }
        try put(block)
    }

    /// `put` for a caller that already holds `gc.lock` shared.
    func putLocked(_ block: Data, durability: Durability = .synced) throws -> CID {
        let cid = CID(of: block)
        let target = path(of: cid)
        if FileOps.size(target) == Int64(block.count) { return cid }
        try FileOps.makeDirectory((target as NSString).deletingLastPathComponent)
        let temp = try FileOps.writeTemp(block, in: tempPath, durability: durability)
        if let quota {
            try FileOps.withLock(writeLockPath, exclusive: true) {
                let used = usage()
                if used + Int64(block.count) > quota {
                    unlink(temp)
                    throw StorageError(code: .quotaExceeded, message: "storing \(block.count) bytes would exceed the quota of \(quota) bytes (\(used) used); unpin and collect garbage, or raise the quota")
                }
                try FileOps.commit(temp, to: target, durability: durability)
            }
        } else {
            try FileOps.commit(temp, to: target, durability: durability)
        }
        return cid
    }

    /// Reads a block and checks it against its CID. A block that fails the
    /// check is deleted and ``StorageError/Code/corruptBlock`` is thrown.
    public func get(_ cid: CID) throws -> Data {
        let target = path(of: cid)
        guard let data = try FileOps.read(target) else {
            throw StorageError(code: .notFound, message: "block \(cid) is not in the store at \(directory.path); fetch it from a peer or put it first")
        }
        guard cid.matches(data) else {
            unlink(target)
            throw StorageError(code: .corruptBlock, message: "block \(cid) on disk does not match its CID (disk corruption?); it was removed — fetch it again")
        }
        return data
    }

    /// Whether the block is present (not verified).
    public func contains(_ cid: CID) -> Bool { FileOps.size(path(of: cid)) != nil }

    /// The size of a stored block, or nil when absent.
    public func size(of cid: CID) -> Int64? { FileOps.size(path(of: cid)) }

    /// Every block in the store, in no particular order.
    ///
    /// - Complexity: O(blocks).
    public func allBlocks() -> [CID] {
        FileOps.list(blocksPath).flatMap { shard in
            FileOps.list(blocksPath + "/" + shard).compactMap { try? CID(parsing: $0) }
        }
    }

    /// The bytes the store's blocks take.
    ///
    /// - Complexity: O(blocks).
    public func usage() -> Int64 {
        allBlocks().reduce(0) { $0 + (size(of: $1) ?? 0) }
    }
}
