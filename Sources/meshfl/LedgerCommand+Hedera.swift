import ArgumentParser
import Foundation
import MeshLedger
import MeshLedgerNetwork
import MeshNode
import Synchronization

extension LedgerCommand {
    /// `meshfl ledger serve-hapi`: a local ledger file behind a HAPI gRPC endpoint and a mirror node REST endpoint.
    struct ServeHAPI: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "serve-hapi",
            abstract: "Serve a local ledger as a Hedera node (HAPI over gRPC) and mirror node (REST), for --ledger hedera:CONFIG.",
            discussion: """
                Prints the HAPI address (host:port) on the first line and the mirror node URL on
                the second, then serves until killed (or --duration). With --write-config, first
                creates a funded operator account (the coordinator: co-signs escrow payouts, holds
                stakes, slashes) and a registry topic, and writes a Hedera config file naming
                them and both endpoints, with the operator's key in CONFIG-operator.pem beside it.
                Give nodes their own accounts with `meshfl ledger hedera create-account`.

                  meshfl ledger serve-hapi --ledger local:dev.ledger --listen 127.0.0.1:0 --write-config hedera.json
                """)

        @OptionGroup var location: Location
        @Option(help: "HOST:PORT for HAPI gRPC (IPv4; port 0 picks one).") var listen = "127.0.0.1:50211"
        @Option(help: "HOST:PORT for the mirror node REST API (port 0 picks one).") var mirrorListen = "127.0.0.1:0"
        @Option(help: ArgumentHelp("Write a Hedera config file for a new funded operator and registry topic.", valueName: "CONFIG"))
        var writeConfig: String?
        @Option(help: "Tinybars the --write-config operator starts with.") var operatorBalance: Int64 = 1_000_000_000_000
        @Option(help: "Stop after this many seconds (default: serve until killed).") var duration: Double?

        static func hostPort(_ text: String, _ flag: String) throws -> (host: String, port: Int) {
            guard let colon = text.lastIndex(of: ":"), colon != text.startIndex, let port = Int(text[text.index(after: colon)...]),
                  (0...65_535).contains(port)
            else { throw ValidationError("\(flag) \(text): expected HOST:PORT, e.g. 127.0.0.1:0") }
            return (String(text[..<colon]), port)
        }

        func validate() throws {
            _ = try Self.hostPort(listen, "--listen")
            _ = try Self.hostPort(mirrorListen, "--mirror-listen")
            guard operatorBalance > 0 else { throw ValidationError("--operator-balance must be positive") }
            if let duration, duration <= 0 { throw ValidationError("--duration must be positive") }
        }

        func run() async throws {
            let ledger = try location.open()
            var dev: (operator: LedgerOperator, registry: TopicID)?
            if writeConfig != nil {
                let op = try await ledger.createFundedAccount(balance: operatorBalance)
                let registry = try await ledger.createTopic(memo: "meshfl registry", submitKey: op.key.publicKey, payer: op)
                dev = (op, registry)
            }
            let (hapi, mirror) = (try Self.hostPort(listen, "--listen"), try Self.hostPort(mirrorListen, "--mirror-listen"))
            let (configPath, cooldown, created) = (writeConfig, ledger.stakeCooldownSeconds, dev)
            let written = WriteFailure()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await LocalHederaNode.serve(ledger: ledger, hapi: hapi, mirror: mirror) { addresses in
                        if let configPath, let dev = created {
                            do {
                                try Self.writeConfig(configPath, addresses: addresses, operator: dev.operator, registry: dev.registry,
                                                     cooldown: cooldown)
                            } catch { written.error.withLock { $0 = error } }
                        }
                        P2PCommand.Listen.say(addresses.hapi)
                        P2PCommand.Listen.say(addresses.mirror)
                    }
                }
                if let duration { group.addTask { try await Task.sleep(for: .milliseconds(Int(duration * 1000))) } }
                try await group.next()
                group.cancelAll()
            }
            if let error = written.error.withLock({ $0 }) { throw error }
        }

        /// Carries a failure to write the config out of the `ready` callback.
        final class WriteFailure: Sendable {
            let error = Mutex<(any Error)?>(nil)
        }

        /// The config file and the operator's PEM key beside it.
        static func writeConfig(_ path: String, addresses: LocalHederaNode.Addresses, operator op: LedgerOperator, registry: TopicID,
                                cooldown: Int64) throws {
            let url = URL(fileURLWithPath: path)
            let keyName = url.deletingPathExtension().lastPathComponent + "-operator.pem"
            let keyURL = url.deletingLastPathComponent().appendingPathComponent(keyName)
            guard FileManager.default.createFile(atPath: keyURL.path, contents: Data(op.key.pem.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw UsageError("cannot write \(keyURL.path)")
            }
            let config: [String: Any] = [
                "network": [["address": addresses.hapi, "account": "0.0.3"]],
                "mirrorNode": addresses.mirror,
                "operator": ["account": op.account.description, "keyFile": keyName],
                "registryTopic": registry.description,
                "stakeCooldownSeconds": Int(cooldown),
            ]
            let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            do { try data.write(to: url, options: .atomic) } catch { throw UsageError("cannot write \(path): \(error.localizedDescription)") }
        }
    }

    /// `meshfl ledger hedera …`: accounts and the registry topic on a Hedera network (or serve-hapi).
    struct Hedera: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create accounts and the registry topic through HAPI (--ledger hedera:CONFIG; the operator pays).",
            subcommands: [CreateAccount.self, CreateRegistry.self])

        static func open(_ location: Location) async throws -> HederaNodeLedger {
            guard let path = location.path, path.hasPrefix("hedera:") else {
                throw ValidationError("give --ledger hedera:CONFIG")
            }
            do {
                guard let ledger = try await ledgerLocation(path).open() as? HederaNodeLedger else { throw ValidationError("give --ledger hedera:CONFIG") }
                return ledger
            } catch let error as NodeError { throw UsageError(error.message) }
        }

        struct CreateAccount: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "create-account",
                abstract: "Create an account with a fresh Ed25519 key (written as PEM to --key-out); prints its id.")
            @OptionGroup var location: Location
            @Option(help: "Tinybars the operator gives it.") var balance: Int64 = 100_000_000
            @Option(help: ArgumentHelp("Where to write the new private key (PEM, mode 0600).", valueName: "FILE")) var keyOut: String

            func validate() throws {
                guard balance >= 0 else { throw ValidationError("--balance must not be negative") }
                guard !FileManager.default.fileExists(atPath: keyOut) else { throw ValidationError("--key-out \(keyOut) exists; pick a new file") }
            }

            func run() async throws {
                let ledger = try await Hedera.open(location)
                let key = Ed25519PrivateKey()
                guard FileManager.default.createFile(atPath: keyOut, contents: Data(key.pem.utf8), attributes: [.posixPermissions: 0o600]) else {
                    await ledger.close()
                    throw UsageError("cannot write \(keyOut)")
                }
                do {
                    let account = try await ledger.createAccount(publicKey: key.publicKey, initialBalance: balance, payer: ledger.treasury)
                    await ledger.close()
                    print(account)
                } catch {
                    await ledger.close()
                    try? FileManager.default.removeItem(atPath: keyOut)
                    throw error
                }
            }
        }

        struct CreateRegistry: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "create-registry",
                abstract: "Create a registry topic (submit key: the operator's); prints its id for the config's registryTopic.")
            @OptionGroup var location: Location

            func run() async throws {
                let ledger = try await Hedera.open(location)
                do {
                    let topic = try await ledger.network.ledger.createRegistryTopic()
                    await ledger.close()
                    print(topic)
                } catch {
                    await ledger.close()
                    throw error
                }
            }
        }
    }
}
