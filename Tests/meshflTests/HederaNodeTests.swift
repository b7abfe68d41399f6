import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Nodes on `--ledger hedera:CONFIG`: `meshfl ledger serve-hapi` (a local
/// ledger behind HAPI gRPC and mirror REST) as its own process, a requester
/// and a trainer talking to it over 127.0.0.1 the way they would talk to a
/// Hedera node and mirror node.
@Suite(.serialized)
struct HederaNodeTests {
    typealias CLI = TrainCommandTests
    typealias Node = NetworkJobTests.Node

    /// A `meshfl ledger serve-hapi` child: its HAPI address and mirror URL, killed by pid when the test ends.
    final class HAPIServer {
        let process = Process()
        let hapi: String
        let mirror: String

        init(ledger: String, config: URL, log: URL) throws {
            process.executableURL = try CLI.binary
            process.arguments = ["ledger", "serve-hapi", "--ledger", "local:" + ledger, "--listen", "127.0.0.1:0",
                                 "--mirror-listen", "127.0.0.1:0", "--write-config", config.path]
            let stdout = Pipe()
            process.standardOutput = stdout
            process.standardError = try FileHandle(forWritingTo: log.creatingFile())
            try process.run()
            var lines: [String] = []
            var line = Data()
            let handle = stdout.fileHandleForReading
            let deadline = Date().addingTimeInterval(30)
            while lines.count < 2, Date() < deadline {
                let byte = handle.readData(ofLength: 1)
                if byte.isEmpty { break }
                if byte == Data("\n".utf8) {
                    lines.append(String(decoding: line, as: UTF8.self))
                    line = Data()
                } else {
                    line.append(byte)
                }
            }
            guard lines.count == 2, lines[0].hasPrefix("127.0.0.1:"), lines[1].hasPrefix("http://127.0.0.1:") else {
                if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
                throw CLI.CLIFailure("serve-hapi did not print its addresses: \(lines); log: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            }
            (hapi, mirror) = (lines[0], lines[1])
        }

        deinit {
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    let cli = CLI()
    let network = NetworkJobTests()

    func run(_ arguments: [String], in directory: URL) throws -> String {
        let result = try cli.meshfl(arguments, in: directory)
        guard result.status == 0 else { throw CLI.CLIFailure("meshfl \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The base config plus this node's own account.
    func nodeConfig(_ base: URL, account: String, keyFile: String, name: String) throws -> URL {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: base)) as? [String: Any])
        object["account"] = ["account": account, "keyFile": keyFile]
        let url = base.deletingLastPathComponent().appendingPathComponent(name)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        return url
    }

    @Test(.timeLimit(.minutes(5)))
    func aJobOnHederaPaysTheTrainerThroughScheduledTransfersAndItsAuditTopicVerifies() throws {
        let directory = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let base = directory.appendingPathComponent("hedera.json")
        let server = try HAPIServer(ledger: directory.appendingPathComponent("dev.ledger").path, config: base,
                                    log: directory.appendingPathComponent("serve-hapi.log"))
        let written = String(decoding: try Data(contentsOf: base), as: UTF8.self)
        #expect(written.contains(server.hapi) && written.contains(server.mirror))

        // The nodes' own accounts, created through HAPI and paid by the operator.
        let requesterAccount = try run(["ledger", "hedera", "create-account", "--ledger", "hedera:hedera.json", "--balance", "1000000000",
                                        "--key-out", "requester.pem"], in: directory)
        let trainerAccount = try run(["ledger", "hedera", "create-account", "--ledger", "hedera:hedera.json", "--balance", "100000",
                                      "--key-out", "trainer.pem"], in: directory)
        #expect(requesterAccount != trainerAccount)
        let requesterConfig = try nodeConfig(base, account: requesterAccount, keyFile: "requester.pem", name: "requester.json")
        let trainerConfig = try nodeConfig(base, account: trainerAccount, keyFile: "trainer.pem", name: "trainer.json")
        #expect(try run(["ledger", "balance", "--ledger", "hedera:" + trainerConfig.path, trainerAccount], in: directory) == "100000")

        let requester = try Node(["--role", "requester", "--data-dir", directory.appendingPathComponent("req").path,
                                  "--ledger", "hedera:" + requesterConfig.path, "--cores", "1"],
                                 log: directory.appendingPathComponent("requester.log"))
        let submitted = try cli.meshfl(["submit", "--data-dir", "req", "--ledger", "hedera:requester.json", "--model", CLI.root.path + "/examples/mlp.json",
                                        "--rounds", "2", "--shards", "2", "--samples", "1000", "--reward", "100", "--lease-seconds", "30",
                                        "--verify-probability", "0", "--threads", "1"], in: directory)
        try #require(submitted.status == 0, "submit failed: \(submitted.stderr)")
        let job = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let trainer = try Node(["--role", "trainer", "--data-dir", directory.appendingPathComponent("trainer").path,
                                "--ledger", "hedera:" + trainerConfig.path, "--bootstrap", requester.address, "--cores", "1", "--stake", "5000"],
                               log: directory.appendingPathComponent("trainer.log"))
        let done = try network.waitFor(job, dataDir: "req", in: directory, seconds: 180) { $0.status == "done" }
        #expect(done.trainers.map(\.accepted) == [4])
        #expect(done.spent == 400)

        // Balances and the stake, read through the mirror node.
        let trainerBalance = try run(["ledger", "balance", "--ledger", "hedera:trainer.json", trainerAccount], in: directory)
        #expect(trainerBalance == "\(100_000 - 5_000 + 400)", "staked 5000, paid 4 × 100")
        let requesterBalance = try run(["ledger", "balance", "--ledger", "hedera:requester.json", requesterAccount], in: directory)
        #expect(requesterBalance == "\(1_000_000_000 - 400)", "400 escrowed, all of it paid out")
        let stake = try run(["ledger", "stake", "show", "--ledger", "hedera:trainer.json", trainerAccount], in: directory)
        #expect(stake.contains("staked 5000"), "\(stake)")

        // Payments were scheduled transfers out of the escrow account, recorded on the registry topic.
        let registry = try #require((try JSONSerialization.jsonObject(with: Data(contentsOf: base)) as? [String: Any])?["registryTopic"] as? String)
        let entries = try run(["ledger", "topic", "messages", "--ledger", "hedera:hedera.json", registry], in: directory)
        let releases = entries.split(separator: "\n").filter { $0.contains("\"release\"") }
        #expect(releases.count == 4, "\(entries)")
        #expect(releases.allSatisfy { $0.contains("\"schedule\"") && $0.contains(trainerAccount) })

        // The audit topic: the job's events, with running hashes that chain.
        struct Report: Decodable { var auditTopic: String }
        let report = try JSONDecoder().decode(Report.self, from: Data(try run(["status", job, "--data-dir", "req", "--json"], in: directory).utf8))
        let audit = try run(["ledger", "topic", "messages", "--ledger", "hedera:requester.json", report.auditTopic], in: directory)
        for event in ["job_submitted", "job_started", "task_leased", "result_accepted", "round_finished", "job_finished"] {
            #expect(audit.contains("\"\(event)\""), "audit topic lacks \(event): \(audit)")
        }
        let verified = try run(["ledger", "topic", "verify", "--ledger", "hedera:requester.json", report.auditTopic], in: directory)
        #expect(verified.hasPrefix("OK "), "\(verified)")
        // The file behind the endpoint replays: every transaction the nodes sent was signed and valid.
        #expect(try run(["ledger", "verify", "--ledger", directory.appendingPathComponent("dev.ledger").path], in: directory).hasPrefix("OK"))
        _ = (server, requester, trainer)
    }

    /// A bad `hedera:` config stops `meshfl node` and `meshfl submit` with status 2, naming the file and the field.
    @Test(arguments: [
        (#"{"network": [{"address": "127.0.0.1:50211", "account": "0.0.3"}], "operator": {"account": "0.0.2", "keyFile": "op.key"}}"#, "field \"mirrorNode\""),
        (#"{"network": [{"address": "nohost", "account": "0.0.3"}], "mirrorNode": "http://127.0.0.1:1", "operator": {"account": "0.0.2", "keyFile": "op.key"}}"#, "field \"network[0].address\""),
        (#"{"network": [{"address": "127.0.0.1:50211", "account": "0.0.3"}], "mirrorNode": "http://127.0.0.1:1", "operator": {"account": "zero", "keyFile": "op.key"}}"#, "field \"operator.account\""),
        (#"{"network": [{"address": "127.0.0.1:50211", "account": "0.0.3"}], "mirrorNode": "http://127.0.0.1:1", "operator": {"account": "0.0.2", "keyFile": "missing.key"}}"#, "field \"operator.keyFile\""),
        (#"{"network": [{"address": "127.0.0.1:50211", "account": "0.0.3"}], "mirrorNode": "http://127.0.0.1:1", "operator": {"account": "0.0.2", "keyFile": "bad.key"}}"#, "field \"operator.keyFile\""),
        (#"{"network": [], "mirrorNode": "http://127.0.0.1:1", "operator": {"account": "0.0.2", "keyFile": "op.key"}}"#, "field \"network\""),
        (#"{"network": [{"address": "127.0.0.1:50211", "account": "0.0.3"}], "mirrorNode": "http://127.0.0.1:1", "operator": {"account": "0.0.2", "keyFile": "op.key"}, "maxFee": 5}"#, "field \"maxFee\" is not a known key"),
        (#"{"network": [{"address": "127.0.0.1:50211", "account": "0.0.3"}], "mirrorNode": "http://127.0.0.1:1", "operator": {"account": "0.0.2", "keyFile": "op.key"}, "registryTopic": "topic"}"#, "field \"registryTopic\""),
    ] as [(String, String)])
    func badHederaConfigsExitTwoNamingTheField(config: String, expected: String) throws {
        let directory = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n".utf8).write(to: directory.appendingPathComponent("op.key"))
        try Data("not a key".utf8).write(to: directory.appendingPathComponent("bad.key"))
        try Data(config.utf8).write(to: directory.appendingPathComponent("bad.json"))
        let node = try cli.meshfl(["node", "--role", "trainer", "--data-dir", "t", "--ledger", "hedera:bad.json", "--duration", "1"], in: directory)
        #expect(node.status == 2)
        #expect(node.stderr.contains("bad.json") && node.stderr.contains(expected), "stderr: \(node.stderr)")
        let submit = try cli.meshfl(["submit", "--data-dir", "req", "--ledger", "hedera:bad.json", "--model", CLI.root.path + "/examples/mlp.json"],
                                    in: directory)
        #expect(submit.status == 2)
        #expect(submit.stderr.contains(expected), "stderr: \(submit.stderr)")
    }
}
