import ArgumentParser
import Foundation
import Libp2p
import MeshLedger
import MeshNN
import MeshNode
import MeshStorage
#if canImport(Glibc)
import Glibc
#endif

/// `meshfl demo` (`make demo`): the main job of the network on embedded defaults.
///
/// A local ledger, one requester and four trainers — one cheating with
/// perturbed weights — as separate OS processes on 127.0.0.1; the reference
/// MLP on Fashion-MNIST, 5 rounds over 8 shards. Prints live progress, then
/// accuracy per round, tasks and payouts per trainer, the cheater's fate and
/// the audit topic's verification, and writes the final weights for PyTorch.
/// Exits 0 only if all of that held.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the network demo: a requester and four trainers (one cheating) train the reference MLP on Fashion-MNIST.",
        discussion: "Everything is written under --dir (deleted and recreated); the final weights go to --out."
    )

    @Option(help: "Working directory for the nodes' data and the ledger (recreated).")
    var dir: String = "demo-run"
    @Option(help: ArgumentHelp("Where to write the final weights.", valueName: "W.safetensors"))
    var out: String = "demo-final.safetensors"
    @Option(help: "Rounds.") var rounds: Int = 5
    @Option(help: "Shards (tasks) per round.") var shards: Int = 8
    @Option(help: "Honest trainers (a cheating one is added).") var trainers: Int = 3
    @Option(help: "Validators the requester hands re-execution to (0: it re-executes itself).") var validators: Int = 0
    @Option(help: "Training samples to use (default: all 60,000).") var samples: Int?
    @Option(help: "Give up after this many seconds.") var timeout: Double = 600
    @Option(help: "Fail unless the final test accuracy reaches this (0…1).") var minAccuracy: Double = 0.80

    func validate() throws {
        guard (1...50).contains(rounds) else { throw ValidationError("--rounds must be between 1 and 50") }
        guard (1...64).contains(shards) else { throw ValidationError("--shards must be between 1 and 64") }
        guard (1...16).contains(trainers) else { throw ValidationError("--trainers must be between 1 and 16") }
        guard (0...8).contains(validators) else { throw ValidationError("--validators must be between 0 and 8") }
    }

    func run() async throws {
        let started = Date()
        let root = URL(fileURLWithPath: dir, isDirectory: true)
        try? FileManager.default.removeItem(at: root)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let ledgerPath = root.appendingPathComponent("dev.ledger").path
        let children = ChildProcesses()
        defer { children.terminateAll() }

        say("meshfl demo: 1 requester + \(trainers) honest trainers + 1 cheating trainer\(validators > 0 ? " + \(validators) validator(s)" : ""), separate processes on 127.0.0.1")
        let requesterDir = root.appendingPathComponent("requester").path
        var delegation: [String] = []
        for index in stride(from: 1, through: validators, by: 1) {
            let address = try children.launchNode(["--role", "validator", "--data-dir", root.appendingPathComponent("validator-\(index)").path,
                                                   "--ledger", "local:" + ledgerPath, "--cores", "1", "--max-reexecutions", String(trainers + 1)],
                                                  name: "validator-\(index)", logDirectory: root)
            say("validator-\(index) \(address)")
            delegation += ["--validator", address]
        }
        let requesterAddress = try children.launchNode(["--role", "requester", "--data-dir", requesterDir, "--ledger", "local:" + ledgerPath,
                                                        "--cores", "1"] + delegation, name: "requester", logDirectory: root)
        say("requester \(requesterAddress)")

        let spec = ModelSpec.referenceMLP
        var train = try Dataset.fashionMNIST(split: .train)
        if let samples, samples < train.count { train = train.subset(Array(0..<samples)) }
        let test = try Dataset.fashionMNIST(split: .test)
        let ledger = try LocalLedger(path: ledgerPath)
        var submission = JobSubmission(model: spec, train: train.reshapedSamples(spec.input), validation: test.reshapedSamples(spec.input),
                                       rounds: rounds, shards: shards,
                                       recipe: .init(epochs: 1, batchSize: 64, learningRate: 0.05, optimizer: "sgd", checkpointEvery: 20),
                                       rewardPerTask: 100)
        submission.leaseSeconds = 30
        submission.reexecutionProbability = 0.25
        let job = try await submission.submit(in: try NodeDirectory(requesterDir), ledger: ledger)
        say("submitted \(job.id): \(rounds) rounds × \(shards) shards of \(train.count) samples, escrow \(job.escrow) tinybars, audit topic \(job.auditTopic)")

        var names: [String: String] = [:]
        for index in 1...(trainers + 1) {
            let cheater = index == trainers + 1
            let name = cheater ? "trainer-\(index) (cheater)" : "trainer-\(index)"
            let directory = root.appendingPathComponent("trainer-\(index)").path
            var arguments = ["--role", "trainer", "--data-dir", directory, "--ledger", "local:" + ledgerPath,
                             "--bootstrap", requesterAddress, "--cores", "1"]
            if cheater { arguments += ["--cheat", "perturb"] }
            let address = try children.launchNode(arguments, name: name, logDirectory: root)
            if let peer = address.split(separator: "/").last { names[String(peer)] = name }
            say("\(name) \(address)")
        }

        let store = try RequesterStore(path: try NodeDirectory(requesterDir).statePath)
        var reportedRounds = 0
        var reportedVerdicts = 0
        var done = false
        while Date().timeIntervalSince(started) < timeout {
            let report = try JobReport(store: store, job: job.id)
            for round in report.rounds.dropFirst(reportedRounds) {
                say(String(format: "round %d/%d: test accuracy %.2f%%  (%.0f s)", round.round + 1, rounds, round.accuracy * 100,
                           Date().timeIntervalSince(started)))
            }
            reportedRounds = report.rounds.count
            for verdict in report.verdicts.dropFirst(reportedVerdicts) where verdict.verdict != "accepted" {
                say("  \(names[verdict.trainer] ?? verdict.trainer): task r\(verdict.round + 1)-s\(verdict.shard) \(verdict.verdict): \(verdict.reason)"
                    + (verdict.evidence.map { " (evidence \($0))" } ?? ""))
            }
            reportedVerdicts = report.verdicts.count
            if let dead = children.exited() { throw UsageError("\(dead) exited early; see its log in \(dir)") }
            if report.record.status == .done { done = true; break }
            try await Task.sleep(for: .milliseconds(300))
        }
        guard done else { throw UsageError("the job did not finish within \(Int(timeout)) s; logs are in \(dir)") }

        // The tables.
        let report = try JobReport(store: store, job: job.id)
        say("\naccuracy per round")
        for round in report.rounds { say(String(format: "  round %d  %6.2f%%", round.round + 1, round.accuracy * 100)) }
        say("\ntrainer                 tasks  rejected  paid (tinybars)  stake      slashed")
        var cheaterCaught = false
        var honestSlashed = false
        for line in report.trainers.sorted(by: { (names[$0.trainer] ?? $0.trainer) < (names[$1.trainer] ?? $1.trainer) }) {
            let name = names[line.trainer] ?? line.trainer
            let stake = try await stakeOf(trainerNamed: name, root: root, ledger: ledger, names: names, peer: line.trainer)
            say("  \(name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(String(format: "%5d  %8d  %15lld  %-9@  %@", line.accepted, line.rejected, line.paid, stake, line.slashed ? "yes" : "no"))")
            if name.contains("cheater") { cheaterCaught = line.slashed && line.rejected > 0 } else if line.slashed { honestSlashed = true }
        }
        let escrow = try await ledger.escrow(job: job.id)
        say(String(format: "\nescrow: %lld locked, %lld paid, %lld refunded", escrow?.locked ?? 0, escrow?.released ?? 0, escrow?.refunded ?? 0))

        let topic = try TopicID(parsing: job.auditTopic)
        let verification = try await ledger.verifyTopic(topic)
        let messages = try await ledger.messages(topic: topic, from: 1, limit: 100_000)
        let events = messages.reduce(0) { $0 + AuditLog.events(in: $1.contents).count }
        say("audit topic \(topic): \(events) events in \(messages.count) messages, running hashes \(verification.isOK ? "verified" : "BROKEN: \(verification)")")

        let directory = try NodeDirectory(requesterDir)
        let sealed = try await directory.blobStore().get(key: JobSubmission.Keys.sealedFinal(job.id))
        let weights = try Sealer.open(sealed, with: try directory.sealingKey())
        try weights.write(to: URL(fileURLWithPath: out), options: .atomic)
        let accuracy = report.rounds.last?.accuracy ?? 0
        say(String(format: "final weights: %@ (test accuracy %.2f%%); in PyTorch: nn.Sequential(nn.Flatten(), nn.Linear(784,256), nn.ReLU(), "
                   + "nn.Linear(256,128), nn.ReLU(), nn.Linear(128,10)).load_state_dict(safetensors.torch.load_file(\"%@\"))", out, accuracy * 100, out))
        say(String(format: "done in %.0f s", Date().timeIntervalSince(started)))

        var failures: [String] = []
        if !cheaterCaught { failures.append("the cheating trainer was not rejected and slashed") }
        if honestSlashed { failures.append("an honest trainer was slashed") }
        if !verification.isOK { failures.append("the audit topic does not verify") }
        if accuracy < minAccuracy {
            failures.append(String(format: "final accuracy %.2f%% is below --min-accuracy %.2f%%", accuracy * 100, minAccuracy * 100))
        }
        if report.rounds.count != rounds { failures.append("\(report.rounds.count) of \(rounds) rounds recorded") }
        if !failures.isEmpty {
            for failure in failures { CommandLineOutput.error(failure) }
            throw ExitCode(1)
        }
    }

    func say(_ line: String) { P2PCommand.Listen.say(line) }

    func stakeOf(trainerNamed name: String, root: URL, ledger: LocalLedger, names: [String: String], peer: String) async throws -> String {
        guard let index = name.split(separator: " ").first.flatMap({ $0.split(separator: "-").last }) else { return "?" }
        let directory = try NodeDirectory(root.appendingPathComponent("trainer-\(index)").path)
        let account = try await directory.ledgerAccount(on: ledger, funding: 0)
        return String(try await ledger.stake(of: account.account).staked)
    }
}

/// The demo's child processes: started with their output in log files,
/// stopped by pid (SIGTERM, then SIGKILL) when the demo ends in any way.
final class ChildProcesses: @unchecked Sendable {
    private var processes: [(name: String, process: Process)] = []
    private let lock = NSLock()

    /// Starts `meshfl node ARGS` and returns the address it prints on its first line.
    func launchNode(_ arguments: [String], name: String, logDirectory: URL) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        if !FileManager.default.isExecutableFile(atPath: process.executableURL!.path) {
            process.executableURL = Bundle.main.executableURL
        }
        process.arguments = ["node"] + arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        let logName = name.replacingOccurrences(of: " ", with: "-").replacingOccurrences(of: "(", with: "").replacingOccurrences(of: ")", with: "")
        let log = logDirectory.appendingPathComponent("\(logName).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        lock.withLock { processes.append((name, process)) }
        // The first line is the address; read it with a bound.
        var line = Data()
        let deadline = Date().addingTimeInterval(60)
        let handle = stdout.fileHandleForReading
        while Date() < deadline {
            let byte = handle.readData(ofLength: 1)
            if byte.isEmpty { break }
            if byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        let address = String(decoding: line, as: UTF8.self)
        guard address.hasPrefix("/") else { throw UsageError("\(name) did not start; see \(log.path)") }
        return address
    }

    /// The name of a child that has exited, if any.
    func exited() -> String? {
        lock.withLock { processes.first { !$0.process.isRunning }?.name }
    }

    func terminateAll() {
        let all = lock.withLock { processes }
        for (_, process) in all where process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(3)
        while Date() < deadline, all.contains(where: { $0.process.isRunning }) { usleep(50_000) }
        for (_, process) in all where process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

extension ModelSpec {
    /// The reference MLP 784-256-128-10 of examples/mlp.json.
    static let referenceMLP = ModelSpec(
        input: [1, 28, 28],
        layers: [.flatten, .dense(units: 256), .relu, .dense(units: 128), .relu, .dense(units: 10)])
}
