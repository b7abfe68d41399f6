public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file stored as blocks: the root CID to hand out, and the manifest.
public struct StoredFile: Sendable, Equatable {
    /// The CID to share: the only block's CID when the file fits one block,
    /// else the manifest's.
    public var root: CID
    /// The file's manifest (stored as a block only when the file spans several blocks).
    public var manifest: Manifest
}

extension BlockStore {
    /// Stores a file as blocks plus (for more than one block) a manifest block,
    /// streaming: one block in memory at a time. Pins the root under `holder`
    /// unless `holder` is nil.
    ///
    /// ```swift
    /// let stored = try store.putFile(at: URL(filePath: "weights.bin"))
    /// print(stored.root)  // bafkrei…
    /// ```
    @discardableResult
    public func putFile(
        at url: URL,
        blockSize: Int = Chunker.defaultBlockSize,
        mediaType: String = "application/octet-stream",
        metadata: [String: String] = [:],
        holder: String? = BlockStore.defaultPinHolder
    ) throws -> StoredFile {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw StorageError(code: .notFound, message: "cannot open \(url.path) for reading; check the path")
        }
        defer { try? handle.close() }
        return try putStream(handle, blockSize: blockSize, mediaType: mediaType, metadata: metadata, holder: holder)
    }

    /// ``putFile(at:blockSize:mediaType:metadata:holder:)`` for an open handle;
    /// `observe` sees each block's bytes in order (e.g. to hash the whole stream).
    public func putStream(
        _ handle: FileHandle,
        blockSize: Int = Chunker.defaultBlockSize,
        mediaType: String = "application/octet-stream",
        metadata: [String: String] = [:],
        holder: String? = BlockStore.defaultPinHolder,
        durability: Durability = .synced,
        observe: ((Data) -> Void)? = nil
    ) throws -> StoredFile {
        try putBlocks(blockSize: blockSize, mediaType: mediaType, metadata: metadata, holder: holder, durability: durability) { store in
            try Chunker.forEachBlock(of: handle, blockSize: blockSize) { block in
                observe?(block)
                try store(block)
            }
        }
    }

    /// ``putFile(at:blockSize:mediaType:metadata:holder:)`` for bytes already
    /// in memory: the same blocks and root, without a file to read them from.
    public func putData(
        _ data: Data,
        blockSize: Int = Chunker.defaultBlockSize,
        mediaType: String = "application/octet-stream",
        metadata: [String: String] = [:],
        holder: String? = BlockStore.defaultPinHolder,
        durability: Durability = .synced
    ) throws -> StoredFile {
        try putBlocks(blockSize: blockSize, mediaType: mediaType, metadata: metadata, holder: holder, durability: durability) { store in
            var offset = data.startIndex
            while offset < data.endIndex {
                let end = data.index(offset, offsetBy: blockSize, limitedBy: data.endIndex) ?? data.endIndex
                try store(Data(data[offset..<end]))
                offset = end
            }
        }
    }

    /// Stores the blocks `feed` hands over (cut at `blockSize`), then the
    /// manifest (for more than one block), and pins the root.
    func putBlocks(
        blockSize: Int, mediaType: String, metadata: [String: String], holder: String?, durability: Durability,
        feed: ((Data) throws -> Void) throws -> Void
    ) throws -> StoredFile {
        guard blockSize > 0 else {
            throw StorageError(code: .invalidArgument, message: "block size must be positive, not \(blockSize)")
        }
        // Holding gc.lock shared for the whole import keeps a collector in
        // another process from deleting blocks before the root is pinned.
        return try FileOps.withLock(gcLockPath, exclusive: false) {
            var entries: [Manifest.Entry] = []
            try feed { block in
                let cid = try putLocked(block, durability: durability)
                entries.append(.init(cid: cid, size: Int64(block.count)))
            }
            if entries.isEmpty {
                entries.append(.init(cid: try putLocked(Data(), durability: durability), size: 0))
            }
            let manifest = Manifest(blocks: entries, mediaType: mediaType, metadata: metadata)
            let root = entries.count == 1 ? entries[0].cid : try putLocked(manifest.encoded(), durability: durability)
            if let holder { try pin(root, holder: holder) }
            return StoredFile(root: root, manifest: manifest)
        }
    }

    /// The manifest behind `root`: decoded from the block when it is a manifest,
    /// else a one-block manifest for the block itself.
    public func manifest(for root: CID) throws -> Manifest {
        let block = try get(root)
        if let manifest = Manifest.decodeIfManifest(block) { return manifest }
        return Manifest(blocks: [.init(cid: root, size: Int64(block.count))])
    }

    /// The blob behind `root` in memory, every block verified (for small blobs: no temp file, no fsync).
    public func read(_ root: CID) throws -> Data {
        let manifest = try manifest(for: root)
        var data = Data(capacity: Int(manifest.totalSize))
        try forEachBlock(of: manifest) { data.append($0) }
        return data
    }

    /// Calls `body` with each block of `manifest` in order, checked against its CID and the manifest's size.
    func forEachBlock(of manifest: Manifest, _ body: (Data) throws -> Void) throws {
        for entry in manifest.blocks {
            let block = try get(entry.cid)
            guard Int64(block.count) == entry.size else {
                throw StorageError(code: .invalidManifest, message: "block \(entry.cid) has \(block.count) bytes but the manifest says \(entry.size); the manifest is wrong")
            }
            try body(block)
        }
    }

    /// Writes the blob behind `root` to `url`, block by block, verifying each;
    /// the file appears atomically (temp file, fsync, rename) or not at all.
    ///
    /// A single block whose bytes are themselves a meshfl manifest is read as a manifest.
    @discardableResult
    public func exportFile(_ root: CID, to url: URL) throws -> Manifest {
        let manifest = try manifest(for: root)
        let directory = url.deletingLastPathComponent().path
        try FileOps.makeDirectory(directory)
        let (temp, fd) = try FileOps.openTemp(in: directory)
        do {
            defer { close(fd) }
            try forEachBlock(of: manifest) { try FileOps.writeAll(fd, $0) }
            try FileOps.sync(fd, temp)
        } catch {
            unlink(temp)
            throw error
        }
        try FileOps.commit(temp, to: url.path)
        return manifest
    }

    /// The CIDs of `root`'s blocks that are missing locally (what to fetch next).
    public func missingBlocks(of manifest: Manifest) -> [CID] {
        manifest.blocks.map(\.cid).filter { !contains($0) }
    }
}
