import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a garbage collection removed.
public struct GarbageReport: Sendable, Equatable {
    /// Blocks deleted.
    public var removedBlocks: Int
    /// Bytes freed.
    public var freedBytes: Int64
    /// Blocks kept because they are pinned or listed by a pinned manifest.
    public var keptBlocks: Int
}

extension BlockStore {
    /// The holder name used when a caller does not give one.
    public static let defaultPinHolder = "user"

    /// Pins a block so garbage collection keeps it (and, for a manifest, its blocks).
    ///
    /// Pins are per holder: a block stays pinned while any holder pins it.
    public func pin(_ cid: CID, holder: String = BlockStore.defaultPinHolder) throws {
        guard contains(cid) else {
            throw StorageError(code: .notFound, message: "cannot pin \(cid): it is not in the store; put or fetch it first")
        }
        let directory = pinsPath + "/" + cid.description
        try FileOps.makeDirectory(directory)
        let file = directory + "/" + Self.holderFileName(holder)
        let fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StorageError(code: .io, message: "cannot write pin \(file); check permissions", cause: Errno(call: "open", value: errno))
        }
        close(fd)
    }

    /// Removes one holder's pin; the block stays until garbage collection.
    public func unpin(_ cid: CID, holder: String = BlockStore.defaultPinHolder) {
        let directory = pinsPath + "/" + cid.description
        unlink(directory + "/" + Self.holderFileName(holder))
        rmdir(directory)  // fails harmlessly while another holder pins it
    }

    /// Whether any holder pins the block.
    public func isPinned(_ cid: CID) -> Bool {
        !FileOps.list(pinsPath + "/" + cid.description).isEmpty
    }

    /// Every pinned CID.
    public func pinned() -> [CID] {
        FileOps.list(pinsPath).compactMap { name in
            guard let cid = try? CID(parsing: name), isPinned(cid) else { return nil }
            return cid
        }
    }

    static func holderFileName(_ holder: String) -> String {
        // Holder names become file names: keep them short and free of '/'.
        let allowed = holder.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) }
        if allowed, !holder.isEmpty, holder.count <= 100, !holder.hasPrefix(".") { return holder }
        return "h-" + CID(of: Data(holder.utf8)).description
    }

    /// Deletes every block that is not pinned and not listed by a pinned
    /// manifest, and every leftover temp file. Waits for writers in any process
    /// to finish and blocks new ones while it runs.
    ///
    /// - Complexity: O(blocks + size of pinned manifests).
    @discardableResult
    public func collectGarbage() throws -> GarbageReport {
        try FileOps.withLock(gcLockPath, exclusive: true) {
            var live = Set<CID>()
            for root in pinned() {
                live.insert(root)
                if let data = try? FileOps.read(path(of: root)), let manifest = Manifest.decodeIfManifest(data) {
                    for entry in manifest.blocks { live.insert(entry.cid) }
                }
            }
            var report = GarbageReport(removedBlocks: 0, freedBytes: 0, keptBlocks: 0)
            for cid in allBlocks() {
                if live.contains(cid) {
                    report.keptBlocks += 1
                    continue
                }
                let size = self.size(of: cid) ?? 0
                if unlink(path(of: cid)) == 0 {
                    report.removedBlocks += 1
                    report.freedBytes += size
                }
            }
            // No writer holds gc.lock, so every temp file is a crashed writer's leftover.
            for name in FileOps.list(tempPath) { unlink(tempPath + "/" + name) }
            return report
        }
    }
}
