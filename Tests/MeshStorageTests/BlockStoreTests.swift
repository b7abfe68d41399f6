import Foundation
import Testing
@testable import MeshStorage

struct BlockStoreTests {
    let directory: URL
    let store: BlockStore

    init() throws {
        directory = try TestSupport.temporaryDirectory("meshfl-blocks")
        store = try BlockStore(directory: directory)
    }

    @Test func putThenGetReturnsTheBytes() throws {
        let data = Data("hello world".utf8)
        let cid = try store.put(data)
        #expect(cid.description == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e")
        #expect(try store.get(cid) == data)
        #expect(try store.put(data) == cid)  // idempotent
        #expect(store.allBlocks() == [cid])
        #expect(store.usage() == 11)
        #expect(FileOps.list(directory.path + "/tmp").isEmpty)
    }

    /// Bytes in memory become the same blocks, manifest and root as the same bytes in a file,
    /// whether fsynced or buffered; an empty input is one empty block either way.
    @Test(arguments: [0, 1, 999, 1000, 1001, 4500])
    func putDataMatchesPutFile(size: Int) throws {
        let data = TestSupport.bytes(size)
        let file = directory.appendingPathComponent("input-\(size)")
        try data.write(to: file)
        let fromFile = try store.putFile(at: file, blockSize: 1000, holder: "file")
        let other = try BlockStore(directory: try TestSupport.temporaryDirectory("meshfl-blocks-data"))
        let fromMemory = try other.putData(data, blockSize: 1000, holder: "memory", durability: .buffered)
        #expect(fromMemory == fromFile)
        #expect(fromFile.manifest.blocks.count == max(1, (size + 999) / 1000))
        #expect(try other.read(fromMemory.root) == data)
        #expect(other.isPinned(fromMemory.root))
        #expect(FileOps.list(other.directory.path + "/tmp").isEmpty, "no temp file is left behind")
    }

    @Test func aMissingBlockIsNotFound() {
        #expect { try store.get(CID(of: Data("nope".utf8))) } throws: { ($0 as? StorageError)?.code == .notFound }
    }

    @Test func aCorruptedBlockIsRefusedAndRemoved() throws {
        let cid = try store.put(TestSupport.bytes(1000))
        let path = store.path(of: cid)
        var bytes = try Data(contentsOf: URL(filePath: path))
        bytes[500] ^= 0x01
        try bytes.write(to: URL(filePath: path))
        #expect { try store.get(cid) } throws: { ($0 as? StorageError)?.code == .corruptBlock }
        #expect(!store.contains(cid))
    }

    @Test func putWithTheWrongCIDIsRefused() throws {
        let other = CID(of: Data("other".utf8))
        #expect { try store.put(Data("this".utf8), as: other) } throws: { ($0 as? StorageError)?.code == .corruptBlock }
        #expect(store.allBlocks().isEmpty)
    }

    @Test func garbageCollectionKeepsPinnedBlocksAndManifestChildren() throws {
        let file = directory.appending(path: "in.bin")
        try TestSupport.bytes(10_000).write(to: file)
        let stored = try store.putFile(at: file, blockSize: 4096, holder: "job-1")
        #expect(stored.manifest.blocks.count == 3)
        let loose = try store.put(Data("loose".utf8))
        let pinned = try store.put(Data("pinned".utf8))
        try store.pin(pinned)
        try store.pin(pinned, holder: "other")

        var report = try store.collectGarbage()
        #expect(report.removedBlocks == 1)
        #expect(!store.contains(loose))
        #expect(store.contains(pinned))
        #expect(stored.manifest.blocks.allSatisfy { store.contains($0.cid) })

        store.unpin(pinned)
        #expect(store.isPinned(pinned))  // "other" still holds it
        store.unpin(pinned, holder: "other")
        store.unpin(stored.root, holder: "job-1")
        report = try store.collectGarbage()
        #expect(report.removedBlocks == 5)
        #expect(store.allBlocks().isEmpty)
        #expect(store.pinned().isEmpty)
    }

    @Test func pinningAnAbsentBlockFails() {
        #expect { try store.pin(CID(of: Data("absent".utf8))) } throws: { ($0 as? StorageError)?.code == .notFound }
    }

    @Test func theQuotaIsEnforced() throws {
        let small = try BlockStore(directory: directory.appending(path: "q"), quota: 2500)
        try small.put(TestSupport.bytes(1000, seed: 1))
        try small.put(TestSupport.bytes(1000, seed: 2))
        #expect { try small.put(TestSupport.bytes(1000, seed: 3)) } throws: { ($0 as? StorageError)?.code == .quotaExceeded }
        try small.put(TestSupport.bytes(1000, seed: 1))  // already present: no new bytes
        try small.collectGarbage()
        try small.put(TestSupport.bytes(1000, seed: 3))
        #expect(small.usage() == 1000)
    }

    @Test(arguments: [0, 1, 4096, 4097, 50_000])
    func filesRoundTripThroughManifests(length: Int) throws {
        let input = TestSupport.bytes(length, seed: UInt64(length) + 7)
        let file = directory.appending(path: "in-\(length).bin")
        try input.write(to: file)
        let stored = try store.putFile(at: file, blockSize: 4096, mediaType: "application/x-test", metadata: ["name": "in.bin"])
        #expect(stored.manifest.totalSize == Int64(length))
        if length <= 4096 {
            #expect(stored.root == CID(of: input))  // one block: the block is the root
        } else {
            #expect(stored.root == stored.manifest.cid)
            #expect(try store.manifest(for: stored.root) == stored.manifest)
            #expect(stored.manifest.mediaType == "application/x-test")
        }
        let out = directory.appending(path: "out-\(length).bin")
        try store.exportFile(stored.root, to: out)
        #expect(try Data(contentsOf: out) == input)
    }

    @Test func exportRefusesACorruptBlockAndLeavesNoFile() throws {
        let file = directory.appending(path: "in.bin")
        try TestSupport.bytes(9000).write(to: file)
        let stored = try store.putFile(at: file, blockSize: 4096)
        let victim = stored.manifest.blocks[1].cid
        try Data(repeating: 0, count: 4096).write(to: URL(filePath: store.path(of: victim)))
        let out = directory.appending(path: "out.bin")
        #expect { try store.exportFile(stored.root, to: out) } throws: { ($0 as? StorageError)?.code == .corruptBlock }
        #expect(!FileManager.default.fileExists(atPath: out.path))
        #expect(store.missingBlocks(of: stored.manifest) == [victim])
    }

    /// Writers on separate descriptors (as separate processes would be: `flock`
    /// locks belong to open file descriptions) racing one collector.
    @Test func concurrentWritersAndACollectorKeepEveryPinnedFileIntact() async throws {
        let writers = 6
        let filesPerWriter = 4
        let root = directory
        let results = try await withThrowingTaskGroup(of: [(CID, Data)].self) { group in
            for w in 0..<writers {
                group.addTask {
                    let mine = try BlockStore(directory: root)  // its own handles, as another process
                    var out: [(CID, Data)] = []
                    for f in 0..<filesPerWriter {
                        // Overlapping content: writers share half their files.
                        let seed = UInt64((w % 3) * 100 + f)
                        let data = TestSupport.bytes(20_000 + f, seed: seed)
                        let file = root.appending(path: "w\(w)-f\(f).bin")
                        try data.write(to: file)
                        let stored = try mine.putFile(at: file, blockSize: 4096, holder: "w\(w)")
                        _ = try mine.put(TestSupport.bytes(100, seed: seed + 999))  // unpinned garbage
                        out.append((stored.root, data))
                    }
                    return out
                }
            }
            group.addTask {
                let collector = try BlockStore(directory: root)
                for _ in 0..<10 { try collector.collectGarbage() }
                return []
            }
            var all: [(CID, Data)] = []
            for try await part in group { all += part }
            return all
        }
        #expect(results.count == writers * filesPerWriter)
        try store.collectGarbage()
        for (index, (cid, data)) in results.enumerated() {
            let out = root.appending(path: "check-\(index).bin")
            try store.exportFile(cid, to: out)
            #expect(try Data(contentsOf: out) == data)
        }
        #expect(FileOps.list(root.path + "/tmp").isEmpty)
    }
}
