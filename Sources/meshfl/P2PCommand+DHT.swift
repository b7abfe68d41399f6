import ArgumentParser
import Foundation
import Kademlia
import Libp2p
import MeshStorage

extension P2PCommand {
    /// `meshfl p2p dht`: the Kademlia DHT (`/ipfs/kad/1.0.0`) from the command line.
    struct DHT: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dht",
            abstract: "Use the Kademlia DHT: serve, put/get values, provide/find providers, find peers.",
            discussion: """
                Each command joins the network through --bootstrap peers, does one thing and exits
                (after --stay seconds, to keep serving what it stored). Value keys are
                /meshfl/<name>; provider keys are CIDs (bafk…), hex multihashes or plain text.

                  meshfl p2p dht serve --listen /ip4/127.0.0.1/tcp/4001
                  meshfl p2p dht put /meshfl/model-7 bafkrei… --bootstrap /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…
                  meshfl p2p dht get /meshfl/model-7 --quorum 2 --bootstrap …
                  meshfl p2p dht provide bafkrei… --stay 600 --bootstrap …
                  meshfl p2p dht find-providers bafkrei… --bootstrap …
                  meshfl p2p dht find-peer 12D3KooW… --bootstrap …
                """,
            subcommands: [Serve.self, Put.self, Get.self, Provide.self, FindProviders.self, FindPeer.self]
        )

        /// Options shared by the DHT subcommands.
        struct Common: ParsableArguments {
            @OptionGroup var identity: Identity
            @OptionGroup var network: P2PNetworkOptions

            @Option(help: "Seconds to keep serving after the operation (default 0).")
            var stay: Double = 0

            func validate() throws {
                if stay < 0 || stay > 86_400 { throw ValidationError("--stay must be between 0 and 86400 seconds") }
            }

            /// Starts a node, runs `body`, stays if asked, and shuts down.
            func run(_ body: (P2PNode) async throws -> Void) async throws {
                let node = try await P2PNode.start(key: try identity.load(), options: network, pubsub: false)
                do { try await body(node) } catch {
                    await node.shutdown()
                    throw error
                }
                if stay > 0 { try? await Task.sleep(for: .milliseconds(Int(stay * 1000))) }
                await node.shutdown()
            }
        }

        /// The DHT key of a value: `/meshfl/<name>` as UTF-8.
        static func valueKey(_ text: String) throws -> [UInt8] {
            guard text.hasPrefix("/meshfl/"), text.count > "/meshfl/".count else {
                throw ValidationError("value key '\(text)' must look like /meshfl/<name> (the namespace this node validates)")
            }
            return Array(text.utf8)
        }

        /// The DHT key of content: a CID's multihash, a hex multihash, or the text itself (as py-libp2p does).
        static func contentKey(_ text: String) -> [UInt8] {
            if let cid = try? CID(parsing: text) { return cid.multihash }
            if text.count % 2 == 0, text.count >= 4, let bytes = hexBytes(text) { return bytes }
            return Array(text.utf8)
        }

        static func hexBytes(_ text: String) -> [UInt8]? {
            var out: [UInt8] = []
            var chars = text.makeIterator()
            while let high = chars.next(), let low = chars.next() {
                guard let byte = UInt8(String([high, low]), radix: 16) else { return nil }
                out.append(byte)
            }
            return out
        }

        struct Serve: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Run a DHT server (and bootstrap peer) until interrupted or --duration.",
                discussion: "The first line printed is the full address to give to other peers."
            )
            @OptionGroup var common: Common

            @Option(help: "Stop after this many seconds (default: run until interrupted).")
            var duration: Double?

            func run() async throws {
                try await common.run { node in
                    for address in await node.host.fullAddresses {
                        P2PNode.say(address.description.replacingOccurrences(of: "/ip4/0.0.0.0/", with: "/ip4/127.0.0.1/"))
                    }
                    let until = ContinuousClock.now + .seconds(duration ?? 1e9)
                    while ContinuousClock.now < until, !Task.isCancelled { try? await Task.sleep(for: .milliseconds(200)) }
                }
            }
        }

        struct Put: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Store a value at the peers closest to its key.")
            @OptionGroup var common: Common
            @Argument(help: "The key, /meshfl/<name>.") var key: String
            @Argument(help: "The value (text).") var value: String

            func validate() throws { _ = try DHT.valueKey(key) }

            func run() async throws {
                try await common.run { node in
                    do {
                        let stored = try await node.dht.putValue(try DHT.valueKey(key), Array(value.utf8))
                        P2PNode.say("stored at \(stored) peers")
                    } catch let error as KadError {
                        throw UsageError("put \(key): \(error.message)")
                    }
                }
            }
        }

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Find a value and print it (exit 1 if none).")
            @OptionGroup var common: Common
            @Argument(help: "The key, /meshfl/<name>.") var key: String
            @Option(help: "Stop once this many peers answered with a valid record; fewer is an error (0: ask the whole lookup).")
            var quorum: Int = 0

            func validate() throws {
                _ = try DHT.valueKey(key)
                if quorum < 0 || quorum > 100 { throw ValidationError("--quorum must be between 0 and 100") }
            }

            func run() async throws {
                try await common.run { node in
                    do {
                        let found = try await node.dht.getValue(try DHT.valueKey(key), quorum: quorum)
                        P2PNode.say(String(decoding: found.value, as: UTF8.self))
                        CommandLineOutput.note("\(found.answers) records agreed or were outranked; \(found.corrected.count) peers corrected")
                    } catch let error as KadError {
                        CommandLineOutput.error("get \(key): \(error.message)")
                        throw ExitCode(1)
                    }
                }
            }
        }

        struct Provide: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Announce this node as a provider of a key (use --stay to keep serving).")
            @OptionGroup var common: Common
            @Argument(help: "A CID, a hex multihash or text.") var key: String

            func run() async throws {
                try await common.run { node in
                    let told = await node.dht.provide(DHT.contentKey(key))
                    P2PNode.say("announced to \(told) peers")
                }
            }
        }

        struct FindProviders: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "find-providers", abstract: "Print the peers that provide a key, one per line.")
            @OptionGroup var common: Common
            @Argument(help: "A CID, a hex multihash or text.") var key: String

            func run() async throws {
                try await common.run { node in
                    let providers = await node.dht.findProviders(DHT.contentKey(key))
                    for peer in providers where peer != node.host.peerID { P2PNode.say(peer.description) }
                    if providers.allSatisfy({ $0 == node.host.peerID }) {
                        CommandLineOutput.error("no provider of \(key) found")
                        throw ExitCode(1)
                    }
                }
            }
        }

        struct FindPeer: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "find-peer", abstract: "Print a peer's addresses, one per line.")
            @OptionGroup var common: Common
            @Argument(help: "The peer id, 12D3KooW….") var peer: String

            func validate() throws {
                do { _ = try PeerID(string: peer) } catch { throw ValidationError("'\(peer)' is not a peer id: \(error.message)") }
            }

            func run() async throws {
                try await common.run { node in
                    let id = try PeerID(string: peer)
                    let addresses = await node.dht.findPeer(id)
                    for address in Set(addresses.map(\.withoutPeerID)).sorted(by: { $0.description < $1.description }) {
                        P2PNode.say(address.appending(.p2p(id)).description)
                    }
                    if addresses.isEmpty {
                        CommandLineOutput.error("no peer in the DHT knows \(peer)")
                        throw ExitCode(1)
                    }
                }
            }
        }
    }
}
