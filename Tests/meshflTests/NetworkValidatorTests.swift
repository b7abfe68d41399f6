import Foundation
import Testing

/// Delegated verification end to end: `meshfl node --role validator` and a
/// requester started with `--validator`, as separate OS processes on
/// 127.0.0.1 with real sockets, a real SQLite ledger and real Fashion-MNIST.
@Suite(.serialized)
struct NetworkValidatorTests {
    typealias CLI = TrainCommandTests
    typealias Node = NetworkJobTests.Node

    /// The parts of `meshfl status --json` these tests read.
    struct Status: Decodable {
        struct Trainer: Decodable { var trainer: String; var accepted: Int; var rejected: Int; var paid: Int64; var slashed: Bool }
        struct Decision: Decodable { var round: Int; var shard: Int; var trainer: String; var verdict: String; var slashed: Bool; var verifiedBy: String? }
        var status: String
        var accuracy: [Double]
        var trainers: [Trainer]
        var spent: Int64
        var auditTopic: String
        var verdicts: [Decision]
    }

    let cli = CLI()
    let jobs = NetworkJobTests()

    func status(_ job: String, in directory: URL) throws -> Status {
        let result = try cli.meshfl(["status", job, "--data-dir", "req", "--json"], in: directory)
        guard result.status == 0 else { throw CLI.CLIFailure("status failed: \(result.stderr)") }
        return try JSONDecoder().decode(Status.self, from: Data(result.stdout.utf8))
    }

    /// Polls `meshfl status` until `condition` holds (bounded).
    func waitFor(_ job: String, in directory: URL, seconds: Double, _ condition: (Status) -> Bool) throws -> Status {
        let deadline = Date().addingTimeInterval(seconds)
        var last: Status?
        while Date() < deadline {
            let current = try status(job, in: directory)
            if condition(current) { return current }
            last = current
            Thread.sleep(forTimeInterval: 0.3)
        }
        throw CLI.CLIFailure("condition not met within \(seconds) s; last status: \(String(describing: last))")
    }

    func validator(in directory: URL) throws -> Node {
        try Node(["--role", "validator", "--data-dir", directory.appendingPathComponent("val").path, "--ledger",
                  "local:" + directory.appendingPathComponent("dev.ledger").path, "--cores", "1", "--max-reexecutions", "4"],
                 log: directory.appendingPathComponent("validator.log"))
    }

    func requester(in directory: URL, validator: String) throws -> Node {
        try Node(["--role", "requester", "--data-dir", directory.appendingPathComponent("req").path, "--ledger",
                  "local:" + directory.appendingPathComponent("dev.ledger").path, "--cores", "1", "--validator", validator,
                  "--validator-timeout", "30"],
                 log: directory.appendingPathComponent("requester.log"))
    }

    func peerID(_ node: Node) -> String { String(node.address.split(separator: "/").last!) }

    /// The job's audit topic, one JSON event per line.
    func auditEvents(_ topic: String, in directory: URL) throws -> [[String: Any]] {
        let result = try cli.meshfl(["ledger", "topic", "messages", topic, "--ledger", directory.appendingPathComponent("dev.ledger").path,
                                     "--limit", "1000"], in: directory)
        guard result.status == 0 else { throw CLI.CLIFailure("ledger topic messages failed: \(result.stderr)") }
        return result.stdout.split(separator: "\n").compactMap { line in
            guard let json = line.split(separator: "\t").last else { return nil }
            return (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any]
        }
    }

    /// The validator re-executes in the requester's place: the cheater is
    /// slashed on the validator's (confirmed) verdict, which the evidence
    /// cites; the honest trainer is paid for every task and never slashed.
    @Test(.timeLimit(.minutes(5)))
    func validatorVerifiesTheCheaterIsSlashedAndTheHonestTrainerPaid() throws {
        let directory = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let validator = try validator(in: directory)
        let validatorID = peerID(validator)
        let requester = try requester(in: directory, validator: validator.address)
        let job = try jobs.submit(directory, rounds: 2, shards: 3, samples: 1500, lease: 30, verify: 1)
        let cheater = try jobs.trainer("cheater", bootstrap: requester.address, in: directory, extra: ["--cheat", "perturb"])
        let honest = try jobs.trainer("honest", bootstrap: requester.address, in: directory)
        let cheaterID = peerID(cheater)
        let honestID = peerID(honest)
        let done = try waitFor(job, in: directory, seconds: 180) { $0.status == "done" }

        let slashed = try #require(done.trainers.first { $0.trainer == cheaterID }, "the cheater got a task: \(done)")
        #expect(slashed.slashed && slashed.paid == 0)
        let paid = try #require(done.trainers.first { $0.trainer == honestID })
        #expect(!paid.slashed && paid.accepted == 6 && paid.paid == 600, "\(paid)")
        #expect(done.spent == 600)

        // node.sqlite: every accepted result (verify probability 1) and the slash were verified by the validator.
        let accepted = done.verdicts.filter { $0.verdict == "accepted" }
        #expect(accepted.count == 6 && accepted.allSatisfy { $0.verifiedBy == validatorID }, "\(done.verdicts)")
        let slash = try #require(done.verdicts.first { $0.verdict == "slashed" })
        #expect(slash.trainer == cheaterID && slash.verifiedBy == validatorID)

        // The audit topic says who verified.
        let events = try auditEvents(done.auditTopic, in: directory)
        let acceptedEvents = events.filter { $0["evt"] as? String == "result_accepted" }
        #expect(acceptedEvents.count == 6 && acceptedEvents.allSatisfy { $0["verifiedBy"] as? String == validatorID })
        let slashEvent = try #require(events.first { $0["evt"] as? String == "trainer_slashed" })
        #expect(slashEvent["verifiedBy"] as? String == validatorID && slashEvent["trainer"] as? String == cheaterID)

        // The evidence document cites the validator's signed verdict.
        let evidence = try #require(try evidenceDocuments(in: directory.appendingPathComponent("req/blocks")).first)
        let verdict = try #require(evidence["validatorVerdict"] as? [String: Any])
        #expect(verdict["signer"] as? String == validatorID)
        _ = (cheater, honest, requester)
    }

    /// Waits (bounded) until `node`'s log has a line containing `text`, looking every 20 ms.
    func waitForLog(_ node: NetworkJobTests.Node, _ text: String, seconds: Double) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let log = try? String(contentsOf: node.log, encoding: .utf8), log.contains(text) { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw CLI.CLIFailure("\(node.log.lastPathComponent) has no \"\(text)\" within \(seconds) s")
    }

    /// A validator killed with SIGKILL mid-job: the requester re-executes
    /// locally from then on and the job still finishes, everyone paid once.
    @Test(.timeLimit(.minutes(5)))
    func killedValidatorFallsBackToLocalReexecution() throws {
        let directory = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let validator = try validator(in: directory)
        let requester = try requester(in: directory, validator: validator.address)
        let job = try jobs.submit(directory, rounds: 4, shards: 2, samples: 1500, lease: 30, verify: 1)
        let a = try jobs.trainer("a", bootstrap: requester.address, in: directory)
        let b = try jobs.trainer("b", bootstrap: requester.address, in: directory)
        // Killed the moment its first re-execution is logged (looked for every 20 ms; each task is a
        // re-execution of 100 ms or more): most of the 8 tasks are still to come. Polling `meshfl status`
        // for the first verdict took long enough for a quick job to end first.
        try waitForLog(validator, "task re-executed", seconds: 120)
        validator.kill9()
        let done = try waitFor(job, in: directory, seconds: 180) { $0.status == "done" }
        #expect(done.accuracy.count == 4)
        #expect(done.trainers.reduce(0) { $0 + $1.accepted } == 8 && done.spent == 800)
        #expect(!done.trainers.contains { $0.slashed })
        let byRequester = done.verdicts.filter { $0.verifiedBy == "requester" }
        #expect(!byRequester.isEmpty, "results after the kill were re-executed locally: \(done.verdicts)")
        let log = try String(contentsOf: requester.log, encoding: .utf8)
        #expect(log.contains("re-executing locally"), "the requester logs why it falls back")
        _ = (a, b)
    }

    /// `meshfl demo --validators 1`: the validator re-executes, the cheater is still caught.
    @Test(.timeLimit(.minutes(5)))
    func demoWithAValidatorCatchesTheCheater() throws {
        let directory = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try cli.meshfl(["demo", "--dir", "run", "--rounds", "1", "--shards", "3", "--trainers", "1", "--validators", "1",
                                     "--samples", "3000", "--out", "final.safetensors", "--timeout", "120", "--min-accuracy", "0.3"], in: directory)
        #expect(result.status == 0, "demo failed: \(result.stdout)\n\(result.stderr)")
        let validatorLine = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("validator-1 /ip4/") })
        let validatorID = String(validatorLine.split(separator: "/").last!)
        #expect(result.stdout.contains("validator \(validatorID) found the first difference"), "\(result.stdout)")
        #expect(result.stdout.split(separator: "\n").contains { $0.contains("(cheater)") && $0.contains("yes") })
    }

    /// JSON documents in a block store that carry a validator's verdict (fraud evidence).
    func evidenceDocuments(in blocks: URL) throws -> [[String: Any]] {
        guard let files = FileManager.default.enumerator(at: blocks, includingPropertiesForKeys: nil) else { return [] }
        var found: [[String: Any]] = []
        for case let file as URL in files {
            guard let data = try? Data(contentsOf: file), data.count < 1 << 20, data.first == UInt8(ascii: "{"),
                  let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], object["validatorVerdict"] != nil else { continue }
            found.append(object)
        }
        return found
    }
}
