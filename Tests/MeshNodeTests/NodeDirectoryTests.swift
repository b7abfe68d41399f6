import Foundation
import MeshNode
import MeshStorage
import Testing

/// `--storage local:DIR`: the data directory's `blocks` links to DIR, so every
/// command using the data directory finds the same objects; a data directory
/// that already keeps objects elsewhere is refused, not split.
struct NodeDirectoryTests {
    func temporary(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("meshfl-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func blocksLinkToTheStorageDirectory() async throws {
        let root = try temporary("place-blocks")
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = try NodeDirectory(root.appendingPathComponent("node").path)
        let target = root.appendingPathComponent("objects/blocks")
        try directory.placeBlocks(at: target)
        try directory.placeBlocks(at: target)  // the same place again is fine
        let data = Data("weights".utf8)
        _ = try await directory.blobStore().put(key: "jobs/a/x", data: data, contentType: nil, durability: .synced)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: directory.blocksURL.path) == target.path)
        #expect(NodeDirectoryFiles.count(in: target) > 0, "the objects are in the storage directory")
        #expect(try await directory.blobStore().get(key: "jobs/a/x") == data)

        let elsewhere = root.appendingPathComponent("other")
        let refused = try #require(throws: NodeError.self) { try directory.placeBlocks(at: elsewhere) }
        #expect(refused.message.contains(target.path) && refused.message.contains(elsewhere.path))
    }

    @Test func aDataDirectoryWithObjectsIsNotRelinked() async throws {
        let root = try temporary("keep-blocks")
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = try NodeDirectory(root.appendingPathComponent("node").path)
        _ = try await directory.blobStore().put(key: "k", data: Data([1, 2, 3]), contentType: nil, durability: .synced)
        let refused = try #require(throws: NodeError.self) { try directory.placeBlocks(at: root.appendingPathComponent("new")) }
        #expect(refused.message.contains(directory.blocksURL.path))
        #expect(try await directory.blobStore().get(key: "k") == Data([1, 2, 3]), "nothing moved")

        // An empty blocks directory (a node that never stored anything) is simply replaced by the link.
        let fresh = try NodeDirectory(root.appendingPathComponent("fresh").path)
        _ = try fresh.blobStore()
        try fresh.placeBlocks(at: root.appendingPathComponent("fresh-blocks"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: fresh.blocksURL.path) == root.appendingPathComponent("fresh-blocks").path)
    }
}

enum NodeDirectoryFiles {
    /// Regular files under `url`.
    static func count(in url: URL) -> Int {
        guard let entries = FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.isRegularFileKey]) else { return 0 }
        return entries.compactMap { ($0 as? URL).flatMap { try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile } }.filter { $0 }.count
    }
}
