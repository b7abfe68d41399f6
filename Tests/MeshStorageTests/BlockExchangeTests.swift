import Foundation
import Libp2p
import Testing
@testable import MeshStorage

/// The block exchange between libp2p hosts in this process, on real TCP
/// sockets on 127.0.0.1: a fetch, a resumed fetch, and a peer serving bad blocks.
struct BlockExchangeTests {
    struct Node {
        let host: Libp2p.Host
        let store: BlockStore
        let exchange: BlockExchange
        let directory: URL
        var address: Multiaddr { get async { await host.fullAddresses[0] } }

        static func start(serves: Bool = true) async throws -> Node {
            let directory = try TestSupport.temporaryDirectory("meshfl-blocks")
            let store = try BlockStore(directory: directory)
            let host = Libp2p.Host(identity: .generate())
            try await host.listen(on: [try Multiaddr("/ip4/127.0.0.1/tcp/0")])
            var config = BlockExchange.Configuration()
            config.serves = serves
            config.stallTimeout = .seconds(20)
            let exchange = BlockExchange(host: host, store: store, configuration: config)
            await exchange.start()
            return Node(host: host, store: store, exchange: exchange, directory: directory)
        }

        func stop() async {
            await host.shutdown()
            try? FileManager.default.removeItem(at: directory)
        }

        func put(_ bytes: Data, blockSize: Int) throws -> StoredFile {
            let file = directory.appending(path: "input.bin")
            try bytes.write(to: file)
            return try store.putFile(at: file, blockSize: blockSize)
        }

        func read(_ root: CID) throws -> Data {
            let out = directory.appending(path: "out-\(UUID().uuidString).bin")
            try store.exportFile(root, to: out)
            return try Data(contentsOf: out)
        }
    }

    @Test(.timeLimit(.minutes(1))) func fetchesABlobFromAPeerAndServesIt() async throws {
        let (seeder, fetcher, third) = (try await Node.start(), try await Node.start(), try await Node.start())
        defer { Task { await seeder.stop(); await fetcher.stop(); await third.stop() } }
        let bytes = TestSupport.bytes(300_000, seed: 5)
        let stored = try seeder.put(bytes, blockSize: 16_384)
        #expect(stored.manifest.blocks.count == 19)

        let report = try await fetcher.exchange.fetch(stored.root, providers: StaticProviderSource([await seeder.address]))
        #expect(report.fetchedBlocks == 19 && report.alreadyHad == 0 && report.corruptBlocks == 0)
        #expect(report.totalBytes == 300_000)
        #expect(try fetcher.read(stored.root) == bytes)
        #expect(fetcher.store.isPinned(stored.root))

        // The fetcher now serves it: a third node fetches from the fetcher alone.
        let again = try await third.exchange.fetch(stored.root, providers: StaticProviderSource([await fetcher.address]))
        #expect(again.blocksByPeer == [fetcher.host.peerID.description: 19])
        #expect(try third.read(stored.root) == bytes)
        #expect(await fetcher.exchange.uploadedBytes == 300_000)
    }

    @Test(.timeLimit(.minutes(1))) func aSingleBlockRootIsFetchedToo() async throws {
        let (seeder, fetcher) = (try await Node.start(), try await Node.start())
        defer { Task { await seeder.stop(); await fetcher.stop() } }
        let stored = try seeder.put(Data("hello world".utf8), blockSize: 1 << 20)
        #expect(stored.root.description == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e")
        let report = try await fetcher.exchange.fetch(stored.root, providers: StaticProviderSource([await seeder.address]))
        #expect(report.blockCount == 1 && report.fetchedBlocks == 1)
        #expect(try fetcher.store.get(stored.root) == Data("hello world".utf8))
    }

    @Test(.timeLimit(.minutes(1))) func aResumedFetchDoesNotRefetchStoredBlocks() async throws {
        let (seeder, fetcher) = (try await Node.start(), try await Node.start())
        defer { Task { await seeder.stop(); await fetcher.stop() } }
        let bytes = TestSupport.bytes(200_000, seed: 6)
        let stored = try seeder.put(bytes, blockSize: 10_000)
        // As if an earlier run died after storing the manifest and every third block.
        try fetcher.store.put(try seeder.store.get(stored.root), as: stored.root)
        let kept = stored.manifest.blocks.enumerated().filter { $0.offset % 3 == 0 }.map(\.element.cid)
        for cid in kept { try fetcher.store.put(try seeder.store.get(cid), as: cid) }

        let report = try await fetcher.exchange.fetch(stored.root, providers: StaticProviderSource([await seeder.address]))
        #expect(report.alreadyHad == kept.count)
        #expect(report.fetchedBlocks == 20 - kept.count)
        #expect(try fetcher.read(stored.root) == bytes)
    }

    @Test(.timeLimit(.minutes(1))) func aPeerServingBadBlocksIsDroppedAndScoredDown() async throws {
        let (seeder, fetcher) = (try await Node.start(), try await Node.start())
        defer { Task { await seeder.stop(); await fetcher.stop() } }
        let bytes = TestSupport.bytes(100_000, seed: 7)
        let stored = try seeder.put(bytes, blockSize: 10_000)
        let manifestBlock = try seeder.store.get(stored.root)

        // A liar: speaks the protocol, holds everything, flips a bit in every block it sends.
        let liar = Libp2p.Host(identity: .generate())
        try await liar.listen(on: [try Multiaddr("/ip4/127.0.0.1/tcp/0")])
        defer { Task { await liar.shutdown() } }
        let seederStore = seeder.store
        let manifest = stored.manifest
        await liar.setHandler(BlockExchangeMessage.protocolID) { stream in
            guard case .open(let open)? = try? await stream.readBlockExchangeMessage() else { return }
            if open.wantsManifest { try? await stream.write(BlockExchangeMessage.manifest(manifestBlock).framed()) }
            try? await stream.write(BlockExchangeMessage.bufferMap(.full(count: manifest.blocks.count)).framed())
            while case .request(let index)? = try? await stream.readBlockExchangeMessage() {
                var block = try! seederStore.get(manifest.blocks[index].cid)
                block[block.startIndex] ^= 0x01
                try? await stream.write(BlockExchangeMessage.block(index: index, bytes: block).framed())
            }
        }
        let liarAddress = await liar.fullAddresses[0]
        let report = try await fetcher.exchange.fetch(
            stored.root, providers: StaticProviderSource([liarAddress, await seeder.address]))
        #expect(report.corruptBlocks >= 1)
        #expect(report.droppedPeers[liar.peerID.description]?.contains("corruptBlock") == true)
        #expect(report.blocksByPeer[liar.peerID.description] == nil)
        #expect(await fetcher.exchange.peerScores[liar.peerID]! <= -100)
        #expect(try fetcher.read(stored.root) == bytes)
    }

    @Test(.timeLimit(.minutes(1))) func noProviderHoldingTheRootIsAClearError() async throws {
        let (empty, fetcher) = (try await Node.start(), try await Node.start())
        defer { Task { await empty.stop(); await fetcher.stop() } }
        let missing = CID(of: Data("nobody has this".utf8))
        await #expect(throws: StorageError.self) {
            _ = try await fetcher.exchange.fetch(missing, providers: StaticProviderSource([await empty.address]))
        }
    }
}
