import ArgumentParser
import Foundation
import Libp2p

/// `meshfl p2p`: the node's libp2p identity, a listener that serves identify and ping, ping, gossipsub
/// (`pubsub`) and the DHT (`dht`).
///
/// ```
/// meshfl p2p id                                   # prints the peer id (12D3KooW…)
/// meshfl p2p listen --listen /ip4/0.0.0.0/tcp/4001 # first line: /ip4/…/tcp/4001/p2p/12D3KooW…
/// meshfl p2p ping /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW… --count 3
/// meshfl p2p pubsub --topic chat --bootstrap /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…
/// meshfl p2p dht get /meshfl/model-7 --bootstrap /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…
/// ```
struct P2PCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "p2p",
        abstract: "libp2p identity, listener, ping, gossipsub and the Kademlia DHT (wire-compatible with py-libp2p).",
        discussion: """
            The identity key is a libp2p PrivateKey protobuf (Ed25519) at --key, else
            <data dir>/p2p/identity.key, the data dir coming from --data-dir, else
            $MESHFL_DATA_DIR, else ~/.local/share/meshfl. It is created on first use.
            """,
        subcommands: [ID.self, Listen.self, Ping.self, Pubsub.self, DHT.self]
    )

    /// Where the identity key is.
    struct Identity: ParsableArguments {
        @Option(help: "The identity key file (libp2p PrivateKey protobuf).")
        var key: String?

        @Option(help: "The data directory (default: $MESHFL_DATA_DIR, else ~/.local/share/meshfl).")
        var dataDir: String?

        func load() throws -> PrivateKey {
            let path: String
            if let key {
                path = key
            } else {
                let env = ProcessInfo.processInfo.environment
                let base = dataDir ?? env["MESHFL_DATA_DIR"] ?? (NSHomeDirectory() + "/.local/share/meshfl")
                let dir = base + "/p2p"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                path = dir + "/identity.key"
            }
            do {
                return try PrivateKey.loadOrCreate(atPath: path)
            } catch {
                throw UsageError("cannot load the identity key \(path): \(error.message); pass --key to use another file")
            }
        }
    }

    struct ID: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print this node's peer id.")

        @OptionGroup var identity: Identity

        func run() async throws {
            print(try identity.load().peerID)
        }
    }

    struct Listen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Listen for peers, serve identify and ping, and log peers that connect.",
            discussion: "The first line printed is the full address to give to other peers."
        )

        @OptionGroup var identity: Identity

        @Option(help: "Multiaddr to listen on (repeatable).")
        var listen: [String] = ["/ip4/0.0.0.0/tcp/4001"]

        @Option(help: "Stop after this many seconds (default: run until interrupted).")
        var duration: Double?

        func validate() throws {
            for address in listen {
                do { _ = try Multiaddr(address) } catch {
                    throw ValidationError("--listen \(address): \(error.message)")
                }
            }
            if let duration, duration <= 0 { throw ValidationError("--duration must be positive") }
        }

        /// Writes a line to stdout unbuffered, so a parent process sees it at once.
        static func say(_ line: String) {
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }

        func run() async throws {
            let key = try identity.load()
            let host = Host(identity: key)
            let events = await host.events()
            do {
                try await host.listen(on: try listen.map { try Multiaddr($0) })
            } catch let error as Libp2pError {
                throw UsageError("cannot listen: \(error.message)")
            }
            for address in await host.fullAddresses {
                // A wildcard address is printed as loopback, which other local peers can dial.
                Self.say(address.description.replacingOccurrences(of: "/ip4/0.0.0.0/", with: "/ip4/127.0.0.1/"))
            }
            let watcher = Task {
                for await event in events {
                    switch event {
                    case .connected(let peer, let address):
                        Self.say("connected \(peer) \(address.map(String.init(describing:)) ?? "")")
                    case .disconnected(let peer):
                        Self.say("disconnected \(peer)")
                    case .identified(let peer):
                        let agent = host.peerstore.record(for: peer).agentVersion ?? "?"
                        Self.say("identified \(peer) agent=\(agent)")
                    }
                }
            }
            if let duration {
                try? await Task.sleep(for: .milliseconds(Int(duration * 1000)))
            } else {
                while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            }
            await host.shutdown()
            watcher.cancel()
        }
    }

    struct Ping: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ping a peer over /ipfs/ping/1.0.0 and print round-trip times.")

        @OptionGroup var identity: Identity

        @Argument(help: "The peer's full address, /ip4/…/tcp/…/p2p/….")
        var address: String

        @Option(help: "Number of pings.")
        var count: Int = 1

        func validate() throws {
            let parsed: Multiaddr
            do { parsed = try Multiaddr(address) } catch {
                throw ValidationError("\(address): \(error.message)")
            }
            if parsed.peerID == nil { throw ValidationError("\(address) needs a /p2p/<peer id> part") }
            if count < 1 || count > 10_000 { throw ValidationError("--count must be between 1 and 10000") }
        }

        func run() async throws {
            let host = Host(identity: try identity.load())
            do {
                let peer = try await host.connect(to: try Multiaddr(address))
                let rtts = try await Libp2p.Ping.ping(peer, on: host, count: count)
                for (i, rtt) in rtts.enumerated() {
                    let ms = Double(rtt.components.seconds) * 1000 + Double(rtt.components.attoseconds) / 1e15
                    print("ping \(i + 1) from \(peer): time=\(String(format: "%.3f", ms)) ms")
                }
                await host.shutdown()
            } catch let error as Libp2pError {
                await host.shutdown()
                CommandLineOutput.error("ping \(address) failed: \(error.message)")
                throw ExitCode(1)
            }
        }
    }
}
