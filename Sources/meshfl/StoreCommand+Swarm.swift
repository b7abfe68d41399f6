import ArgumentParser
import Synchronization
import Foundation
import Kademlia
import Libp2p
import MeshStorage

/// `meshfl store seed` and `meshfl store fetch`: the block exchange
/// (`/meshfl/blocks/1.0.0`) between nodes.
///
/// ```
/// meshfl store seed bafkrei… --listen /ip4/127.0.0.1/tcp/4001     # first line: /ip4/…/p2p/12D3KooW…
/// meshfl store fetch bafkrei… --from /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW… --out weights.bin
/// # with a DHT: the seeder provides, the fetcher finds providers (--from becomes a fallback)
/// meshfl store seed bafkrei… --dht-bootstrap /ip4/…/p2p/12D3KooW…
/// meshfl store fetch bafkrei… --dht-bootstrap /ip4/…/p2p/12D3KooW… --out weights.bin
/// ```
extension StoreCommand {
    /// Options shared by the commands that run a block exchange node.
    struct Swarm: ParsableArguments {
        @Option(help: "Multiaddr to listen on (port 0 picks one).")
        var listen = "/ip4/127.0.0.1/tcp/0"

        @Option(help: "Cap on upload to all peers together, in MiB/s (default: none).")
        var uploadLimit: Double?

        @Option(help: "Also write the full listen address to this file once listening.")
        var addressFile: String?

        @Option(help: "Join the Kademlia DHT through this peer, /ip4/…/tcp/…/p2p/… (repeatable): seeds announce themselves as providers, fetches find providers there.")
        var dhtBootstrap: [String] = []

        func validate() throws {
            do { _ = try Multiaddr(listen) } catch { throw ValidationError("--listen \(listen): \(error.message)") }
            if let uploadLimit, !(uploadLimit > 0) { throw ValidationError("--upload-limit must be a positive number of MiB/s") }
            for text in dhtBootstrap {
                let address: Multiaddr
                do { address = try Multiaddr(text) } catch { throw ValidationError("--dht-bootstrap \(text): \(error.message)") }
                guard address.peerID != nil else { throw ValidationError("--dht-bootstrap \(text) must end in /p2p/<peer id>") }
            }
        }

        /// A host listening on `--listen`, its identity from <data dir>/p2p/identity.key.
        func startHost(_ location: Location) async throws -> Libp2p.Host {
            let keyDirectory = location.storeDirectory.deletingLastPathComponent().appending(path: "p2p")
            try FileManager.default.createDirectory(at: keyDirectory, withIntermediateDirectories: true)
            let keyPath = keyDirectory.appending(path: "identity.key").path
            let key: PrivateKey
            do { key = try PrivateKey.loadOrCreate(atPath: keyPath) } catch {
                throw UsageError("cannot load the identity key \(keyPath): \(error.message)")
            }
            let host = Libp2p.Host(identity: key)
            do { try await host.listen(on: [try Multiaddr(listen)]) } catch let error as Libp2pError {
                throw UsageError("cannot listen on \(listen): \(error.message)")
            }
            let address = await host.fullAddresses[0].description
            FileHandle.standardOutput.write(Data((address + "\n").utf8))
            if let addressFile {
                let temp = addressFile + ".tmp"
                try Data((address + "\n").utf8).write(to: URL(filePath: temp))
                _ = rename(temp, addressFile)
            }
            return host
        }

        func configuration(serves: Bool, window: Int = 8) -> BlockExchange.Configuration {
            var config = BlockExchange.Configuration()
            config.serves = serves
            config.uploadLimit = uploadLimit.map { Int($0 * 1_048_576) }
            config.scheduler.window = window
            return config
        }
    }

    struct Seed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve stored blobs to peers over /meshfl/blocks/1.0.0 until interrupted.",
            discussion: "The first line printed is the full address to give to `store fetch --from`.")
        @OptionGroup var location: Location
        @OptionGroup var swarm: Swarm
        @Argument(help: "CIDs that must be in the store (every stored blob is served).")
        var cids: [String] = []

        func validate() throws {
            for cid in cids {
                do { _ = try CID(parsing: cid) } catch { throw ValidationError("\(error)") }
            }
        }

        func run() async throws {
            let store = try location.blocks()
            for text in cids {
                let cid = try CID(parsing: text)
                guard store.contains(cid) else {
                    throw UsageError("\(cid) is not in the store at \(location.storeDirectory.path); `meshfl store put FILE` first")
                }
            }
            let host = try await swarm.startHost(location)
            let exchange = BlockExchange(host: host, store: store, configuration: swarm.configuration(serves: true))
            await exchange.start()
            if let dht = try await swarm.startDHT(on: host) {
                for text in cids {
                    let told = await dht.provide(try CID(parsing: text).multihash)
                    CommandLineOutput.note("providing \(text) (told \(told) DHT peers)")
                }
            }
            while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
        }
    }

    struct Fetch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch a blob from peers (swarming, rarest block first), verifying every block.",
            discussion: """
                Blocks go into the store as they arrive and are served to other peers at once
                (unless --no-serve); an interrupted fetch resumes where it stopped. Prints the
                listen address first, progress on standard error, and a JSON report last.
                """)
        @OptionGroup var location: Location
        @OptionGroup var swarm: Swarm
        @Argument(help: "The blob's CID (its manifest's, as `store put` prints).") var cid: String
        @Option(name: .customLong("from"), help: "A peer holding the blob, /ip4/…/tcp/…/p2p/… (repeatable).")
        var providers: [String] = []
        @Option(name: .shortAndLong, help: "Also write the blob to this file.") var out: String?
        @Flag(help: "Only download: do not serve blocks to other peers.") var noServe = false
        @Option(help: "Requests in flight per peer.") var window = 8
        @Option(help: "Keep serving this many seconds after the download (default 0).") var linger: Double = 0
        @Option(help: "Write the JSON report to this file too.") var report: String?
        @Option(help: "Give up after this many seconds.") var timeout: Double = 600

        func validate() throws {
            do { _ = try CID(parsing: cid) } catch { throw ValidationError("\(error)") }
            guard !providers.isEmpty || !swarm.dhtBootstrap.isEmpty else {
                throw ValidationError("give at least one --from /ip4/…/tcp/…/p2p/… peer that holds \(cid), or --dht-bootstrap to find providers in the DHT")
            }
            for provider in providers {
                let address: Multiaddr
                do { address = try Multiaddr(provider) } catch { throw ValidationError("--from \(provider): \(error.message)") }
                guard address.peerID != nil else { throw ValidationError("--from \(provider) must end in /p2p/<peer id>") }
            }
            guard (1...256).contains(window) else { throw ValidationError("--window must be 1…256") }
            guard linger >= 0, timeout > 0 else { throw ValidationError("--linger must be ≥ 0 and --timeout positive") }
        }

        func run() async throws {
            let root = try CID(parsing: cid)
            let store = try location.blocks()
            let host = try await swarm.startHost(location)
            let exchange = BlockExchange(host: host, store: store, configuration: swarm.configuration(serves: !noServe, window: window))
            await exchange.start()
            let publishers = try providers.map { try Multiaddr($0) }
            let source: any BlockProviderSource = if let dht = try await swarm.startDHT(on: host) {
                DHTProviderSource(dht: dht, host: host, fallback: publishers)
            } else {
                StaticProviderSource(publishers)
            }
            let progress = FetchProgress()
            let fetched: BlockFetchReport
            do {
                fetched = try await withThrowingTaskGroup(of: BlockFetchReport.self) { group in
                    group.addTask { try await exchange.fetch(root, providers: source) { progress.update($0, $1) } }
                    group.addTask {
                        try await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
                        throw UsageError("fetching \(root) took longer than --timeout \(timeout) s; run the same command again to resume")
                    }
                    defer { group.cancelAll() }
                    return try await group.next()!
                }
            } catch let error as StorageError {
                throw UsageError(error.message)
            }
            if let out { try store.exportFile(root, to: URL(filePath: out)) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let json = try encoder.encode(fetched)
            if let report { try json.write(to: URL(filePath: report), options: .atomic) }
            FileHandle.standardOutput.write(json + Data("\n".utf8))
            if linger > 0 { try? await Task.sleep(for: .milliseconds(Int(linger * 1000))) }
            await host.shutdown()
        }
    }
}

/// Progress of a fetch on standard error: a line every few seconds (or ten a second on a terminal).
final class FetchProgress: Sendable {
    private let last = Mutex<Double>(0)

    func update(_ held: Int, _ total: Int) {
        let now = CommandLineOutput.now()
        let interval = CommandLineOutput.isInteractive ? 0.1 : 3.0
        let draw = last.withLock { last in
            guard held == total || now - last >= interval else { return false }
            last = now
            return true
        }
        guard draw else { return }
        let line = "fetched \(held)/\(total) blocks"
        writeStandardError(CommandLineOutput.isInteractive && held < total ? "\r\(line)" : (CommandLineOutput.isInteractive ? "\r\(line)\n" : line + "\n"))
    }
}
