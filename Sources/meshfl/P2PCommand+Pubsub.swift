import ArgumentParser
import Foundation
import Gossipsub
import Libp2p

extension P2PCommand {
    /// `meshfl p2p pubsub`: joins a gossipsub topic, publishes stdin lines, prints what others publish.
    struct Pubsub: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Join a gossipsub topic: publish each stdin line, print messages from others.",
            discussion: """
                Messages are signed (StrictSign) and interoperate with py-libp2p and go-libp2p
                (/meshsub/1.1.0). Received messages go to standard output, one per line (the data
                as text, or a JSON object with --json); status lines go to standard error, the first
                being `listening <full multiaddr>`. The command ends --linger seconds after stdin
                closes, or after --duration.

                  meshfl p2p pubsub --topic chat --listen /ip4/127.0.0.1/tcp/4001
                  meshfl p2p pubsub --topic chat --bootstrap /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…
                """
        )

        @OptionGroup var identity: Identity
        @OptionGroup var network: P2PNetworkOptions

        @Option(help: "The topic to join.")
        var topic: String

        @Flag(help: "Print received messages as JSON objects (from, seqno, topic, data).")
        var json = false

        @Option(help: "Before reading stdin, wait (up to 30 s) until this many peers joined the topic (default: 1 with --bootstrap, else 0).")
        var waitPeers: Int?

        @Option(help: "Seconds to keep running after stdin closes, so the last messages spread.")
        var linger: Double = 2

        @Option(help: "Stop after this many seconds (default: when stdin closes, plus --linger).")
        var duration: Double?

        func validate() throws {
            if topic.isEmpty { throw ValidationError("--topic must not be empty") }
            if let waitPeers, waitPeers < 0 || waitPeers > 1000 { throw ValidationError("--wait-peers must be between 0 and 1000") }
            if linger < 0 || linger > 3600 { throw ValidationError("--linger must be between 0 and 3600 seconds") }
            if let duration, duration <= 0 { throw ValidationError("--duration must be positive") }
        }

        func run() async throws {
            let key = try identity.load()
            let node = try await P2PNode.start(key: key, options: network, pubsub: true)
            let pubsub = node.pubsub!
            for address in await node.host.fullAddresses {
                CommandLineOutput.note("listening \(address.description.replacingOccurrences(of: "/ip4/0.0.0.0/", with: "/ip4/127.0.0.1/"))")
            }
            let messages = await pubsub.subscribe(topic)
            let me = node.host.peerID
            let json = self.json
            let printer = Task {
                for await message in messages where message.author != me {
                    P2PNode.say(json ? Self.jsonLine(message) : String(decoding: message.data, as: UTF8.self))
                }
            }
            let hasBootstrap = try !network.bootstrapAddresses().isEmpty
            let wanted = waitPeers ?? (hasBootstrap ? 1 : 0)
            if wanted > 0 {
                let deadline = ContinuousClock.now + .seconds(30)
                while await pubsub.topicPeers(topic).count < wanted, ContinuousClock.now < deadline {
                    try? await Task.sleep(for: .milliseconds(100))
                }
                let joined = await pubsub.topicPeers(topic).count
                if joined < wanted { CommandLineOutput.note("only \(joined) of \(wanted) peers joined \(topic); publishing anyway") }
            }
            CommandLineOutput.note("joined \(topic)")
            let topic = self.topic
            let publisher = Task {
                // Blocking reads of stdin on a thread of their own, never on the cooperative pool.
                for await line in Self.stdinLines() {
                    await pubsub.publish(topic, Array(line.utf8))
                }
                try? await Task.sleep(for: .milliseconds(Int(linger * 1000)))
            }
            if let duration {
                let stopper = Task { try? await Task.sleep(for: .milliseconds(Int(duration * 1000))) }
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await publisher.value }
                    group.addTask { await stopper.value }
                    await group.next()
                    publisher.cancel()
                    stopper.cancel()
                }
            } else {
                await publisher.value
            }
            printer.cancel()
            await node.shutdown()
        }

        static func jsonLine(_ message: PubsubMessage) -> String {
            let object: [String: String] = [
                "from": message.author?.description ?? "",
                "seqno": (message.seqno ?? []).map { String(format: "%02x", $0) }.joined(),
                "topic": message.topic,
                "data": String(decoding: message.data, as: UTF8.self),
            ]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }

        /// Lines of standard input, read on a dedicated thread; the stream ends at EOF.
        static func stdinLines() -> AsyncStream<String> {
            let (stream, continuation) = AsyncStream<String>.makeStream()
            Thread {
                while let line = readLine(strippingNewline: true) { continuation.yield(line) }
                continuation.finish()
            }.start()
            return stream
        }
    }
}
