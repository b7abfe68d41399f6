import ArgumentParser
import Foundation
import MeshStorage

/// `meshfl store`: the node's content-addressed store — put and get files by
/// CID, presign object URLs and serve them.
///
/// ```
/// meshfl store put weights.bin                      # prints the CID
/// meshfl store get bafkrei… --out weights.bin
/// meshfl store put shard-0.bin --key jobs/7/shard-0  # also an object for presigned URLs
/// meshfl store serve --port 8080 &
/// meshfl store presign jobs/7/shard-0 --endpoint http://127.0.0.1:8080
/// meshfl store seed bafkrei… &                       # serves /meshfl/blocks/1.0.0
/// meshfl store fetch bafkrei… --from /ip4/…/p2p/… --out copy.bin
/// ```
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Store and fetch content-addressed files; presign and serve object URLs.",
        discussion: """
            The store lives in <data dir>/store, the data dir coming from --data-dir, else
            $MESHFL_DATA_DIR, else ~/.local/share/meshfl. Presigned URLs are signed with the
            node's key pair in <data dir>/store/presign-credentials.json (made on first use).
            """,
        subcommands: [Put.self, Get.self, Presign.self, Serve.self, Seed.self, Fetch.self, S3.self, GC.self]
    )

    /// Where the store is.
    struct Location: ParsableArguments {
        @Option(help: "The data directory (default: $MESHFL_DATA_DIR, else ~/.local/share/meshfl).")
        var dataDir: String?

        var storeDirectory: URL {
            let env = ProcessInfo.processInfo.environment
            let base = dataDir ?? env["MESHFL_DATA_DIR"] ?? (NSHomeDirectory() + "/.local/share/meshfl")
            return URL(filePath: base).appending(path: "store", directoryHint: .isDirectory)
        }

        func blocks() throws -> BlockStore { try BlockStore(directory: storeDirectory) }

        func objects(endpoint: URL? = nil, blockSize: Int = Chunker.defaultBlockSize) throws -> LocalBlobStore {
            let blocks = try blocks()
            return try LocalBlobStore(blocks: blocks, endpoint: endpoint,
                                      credentials: try LocalBlobStore.nodeCredentials(in: storeDirectory),
                                      blockSize: blockSize)
        }
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Store a file and print its CID (the block's if it fits one block, else its manifest's).")
        @OptionGroup var location: Location
        @Argument(help: "The file to store.") var file: String
        @Option(help: "Block size in bytes.") var blockSize = Chunker.defaultBlockSize
        @Option(help: "Media type recorded in the manifest.") var mediaType = "application/octet-stream"
        @Option(help: "Also make it the object KEY, for presigned URLs.") var key: String?

        func validate() throws {
            guard FileManager.default.isReadableFile(atPath: file) else { throw ValidationError("cannot read \(file); check the path") }
            guard blockSize > 0, blockSize <= 64 << 20 else { throw ValidationError("--block-size must be 1…67108864, not \(blockSize)") }
        }

        func run() async throws {
            let url = URL(filePath: file)
            if let key {
                let objects = try location.objects(blockSize: blockSize)
                _ = try await objects.put(key: key, file: url, contentType: mediaType)
            }
            let stored = try location.blocks().putFile(at: url, blockSize: blockSize, mediaType: mediaType,
                                                        metadata: ["name": url.lastPathComponent])
            print(stored.root)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the file behind a CID, verifying every block.")
        @OptionGroup var location: Location
        @Argument(help: "The CID printed by `store put`.") var cid: String
        @Option(name: .shortAndLong, help: "Where to write the file.") var out: String

        func validate() throws {
            do { _ = try CID(parsing: cid) } catch { throw ValidationError("\(error)") }
        }

        func run() async throws {
            let manifest = try location.blocks().exportFile(try CID(parsing: cid), to: URL(filePath: out))
            CommandLineOutput.note("wrote \(manifest.totalSize) bytes to \(out)")
        }
    }

    struct Presign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a presigned URL for an object served by `store serve`.")
        @OptionGroup var location: Location
        @Argument(help: "The object key.") var key: String
        @Option(help: "get or put.") var method = "get"
        @Option(help: "Lifetime in seconds (1…604800).") var expires = 3600
        @Option(help: "Content type the PUT must send (signed).") var contentType: String?
        @Option(help: "The serving node's URL.") var endpoint = "http://127.0.0.1:8080"

        func validate() throws {
            guard PresignedMethod(rawValue: method.uppercased()) != nil else { throw ValidationError("--method must be get or put") }
            guard (1...604_800).contains(expires) else { throw ValidationError("--expires must be 1…604800 seconds") }
            guard URL(string: endpoint)?.host != nil else { throw ValidationError("--endpoint must look like http://127.0.0.1:8080") }
        }

        func run() async throws {
            let objects = try location.objects(endpoint: URL(string: endpoint)!)
            print(try objects.presignedURL(key: key, method: PresignedMethod(rawValue: method.uppercased())!, expires: expires, contentType: contentType))
        }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve the store's objects at presigned URLs until interrupted.")
        @OptionGroup var location: Location
        @Option(help: "Address to listen on.") var host = "127.0.0.1"
        @Option(help: "Port to listen on (0 picks one).") var port = 8080

        func run() async throws {
            let server = try await PresignedServer.start(store: try location.objects(), host: host, port: port)
            // Unbuffered: scripts read the port from this line while the server runs.
            FileHandle.standardOutput.write(Data("serving \(location.storeDirectory.path) at http://\(host):\(server.port)\n".utf8))
            while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
            try await server.stop()
        }
    }

    struct GC: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "gc", abstract: "Delete blocks no pin or object keeps.")
        @OptionGroup var location: Location

        func run() async throws {
            let report = try location.blocks().collectGarbage()
            print("removed \(report.removedBlocks) blocks (\(report.freedBytes) bytes), kept \(report.keptBlocks)")
        }
    }
}
