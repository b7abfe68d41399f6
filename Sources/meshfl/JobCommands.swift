import ArgumentParser
import Crypto
import Foundation
import MeshLedger
import MeshNN
import MeshNode
import MeshStorage

/// `meshfl submit`: prepares a job in the requester's data directory.
struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a job to the requester node whose data directory this is; prints the job id.",
        discussion: """
            Splits the training data into --shards shards (IID), stores them and the initial
            weights in the data directory's block store, locks rounds × shards × reward
            tinybars of escrow, creates the job's audit topic and signs the job spec. The
            requester node (`meshfl node --role requester` on the same --data-dir) picks it up.
            """
    )

    @OptionGroup var dataDir: DataDirOption
    @OptionGroup var modelData: ModelDataOptions

    @Option(help: "The ledger: local:PATH or hedera:CONFIG (the requester node's).")
    var ledger: String = "local:meshfl-dev.ledger"
    @Option(help: "Rounds of federated training.")
    var rounds: Int = 5
    @Option(help: "Shards (tasks) per round.")
    var shards: Int = 8
    @Option(help: "Tinybars paid per accepted task.")
    var reward: Int64 = 100
    @Option(help: "Local epochs per task.")
    var epochs: Int = 1
    @Option(help: "Mini-batch size.")
    var batch: Int = 64
    @Option(help: "Learning rate.")
    var lr: Float = 0.05
    @Option(help: "sgd (momentum 0.9) or adam.")
    var optimizer: String = "sgd"
    @Option(help: "Use only the first N training samples (default: all).")
    var samples: Int?
    @Option(help: "Seconds a trainer has to hand a task back.")
    var leaseSeconds: Double = 60
    @Option(help: "Probability of re-executing a result (a trainer's first two are always re-executed).")
    var verifyProbability: Double = 0.25
    @Option(help: "Seed of the job (initial weights, shards, every task's shuffle).")
    var seed: UInt64 = 1

    func validate() throws {
        try modelData.validateCommon()
        guard rounds >= 1 && rounds <= 10_000 else { throw ValidationError("--rounds must be between 1 and 10000, got \(rounds)") }
        guard shards >= 1 && shards <= 100_000 else { throw ValidationError("--shards must be between 1 and 100000, got \(shards)") }
        guard reward >= 0 else { throw ValidationError("--reward must not be negative") }
        guard ["sgd", "adam"].contains(optimizer) else { throw ValidationError("--optimizer must be sgd or adam, got \(optimizer)") }
        guard leaseSeconds > 0 else { throw ValidationError("--lease-seconds must be positive") }
        guard (0...1).contains(verifyProbability) else { throw ValidationError("--verify-probability must be within 0…1") }
        _ = try ledgerLocation(ledger)
    }

    func run() async throws {
        let spec = try modelData.loadSpec()
        var train = try modelData.loadData(split: .train, spec: spec)
        if let samples, samples < train.count { train = train.subset(Array(0..<samples)) }
        let validation: Dataset
        if let test = try? modelData.loadData(split: .test, spec: spec) { validation = test } else {
            let held = max(1, train.count / 10)
            validation = train.subset(Array((train.count - held)..<train.count))
            train = train.subset(Array(0..<(train.count - held)))
        }
        let ledgerHandle = try await ledgerLocation(ledger).open()
        var submission = JobSubmission(model: spec, train: train, validation: validation, rounds: rounds, shards: shards,
                                       recipe: .init(epochs: epochs, batchSize: batch, learningRate: lr, optimizer: optimizer),
                                       rewardPerTask: reward)
        submission.leaseSeconds = leaseSeconds
        submission.reexecutionProbability = verifyProbability
        submission.seed = seed
        do {
            let job = try await submission.submit(in: try NodeDirectory(dataDir.path), ledger: ledgerHandle)
            await ledgerHandle.close()
            print(job.id)
        } catch let error as NodeError {
            await ledgerHandle.close()
            throw UsageError(error.message)
        }
    }
}

/// `meshfl jobs`: the jobs of a requester's data directory.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "jobs", abstract: "List the jobs of this requester's data directory.")

    @OptionGroup var dataDir: DataDirOption

    func run() async throws {
        let store = try RequesterStore(path: try NodeDirectory(dataDir.path).statePath)
        let jobs = try store.jobs()
        if jobs.isEmpty { print("no jobs in \(dataDir.path); submit one with `meshfl submit`"); return }
        print("JOB                   STATUS   ROUND  SHARDS  ACCURACY")
        for job in jobs {
            let accuracy = try store.rounds(job: job.spec.id).last.map { String(format: "%.2f%%", $0.accuracy * 100) } ?? "-"
            print("\(job.spec.id.padding(toLength: 21, withPad: " ", startingAt: 0)) \(job.status.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) "
                  + "\(min(job.board.round + 1, job.spec.rounds))/\(job.spec.rounds)".padding(toLength: 6, withPad: " ", startingAt: 0)
                  + " \(String(job.spec.shards).padding(toLength: 7, withPad: " ", startingAt: 0)) \(accuracy)")
        }
    }
}

/// `meshfl status JOB`: round, accuracy, trainers and spend; `--watch` until done.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a job's progress: rounds, accuracy, trainers, spend.")

    @OptionGroup var dataDir: DataDirOption
    @Argument(help: "The job id (see `meshfl jobs`).") var job: String
    @Flag(help: "Refresh every second until the job is done (at most --timeout seconds).") var watch = false
    @Option(help: "Longest --watch runs, in seconds.") var timeout: Double = 3600
    @Flag(help: "Print one JSON object instead of tables.") var json = false

    func run() async throws {
        let store = try RequesterStore(path: try NodeDirectory(dataDir.path).statePath)
        let started = Date()
        while true {
            guard let record = try store.job(job) else { throw UsageError("no job \(job) in \(dataDir.path); see `meshfl jobs`") }
            let report = try JobReport(store: store, job: job)
            if json {
                print(String(decoding: try report.json(), as: UTF8.self))
            } else {
                print(report.render(), terminator: "")
            }
            if !watch || record.status == .done || Date().timeIntervalSince(started) > timeout { break }
            try await Task.sleep(for: .seconds(1))
            print("")
        }
    }
}

/// `meshfl fetch JOB --out W.safetensors`: the final weights, opened with the requester's sealing key.
struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fetch", abstract: "Write a finished job's final weights (safetensors, PyTorch naming).")

    @OptionGroup var dataDir: DataDirOption
    @Argument(help: "The job id.") var job: String
    @Option(help: ArgumentHelp("Where to write the weights.", valueName: "W.safetensors")) var out: String

    func run() async throws {
        let directory = try NodeDirectory(dataDir.path)
        let store = try RequesterStore(path: directory.statePath)
        guard let record = try store.job(job) else { throw UsageError("no job \(job) in \(dataDir.path); see `meshfl jobs`") }
        guard record.status == .done else {
            throw UsageError("job \(job) is \(record.status.rawValue) (round \(record.board.round + 1)/\(record.spec.rounds)); fetch it when `meshfl status` says done")
        }
        let sealed: Data
        do {
            // Published jobs (`meshfl node --storage s3:CONFIG`) end in their bucket; credentials come from the environment.
            sealed = try await JobStorage.forJob(job, local: try directory.blobStore()).get(key: JobSubmission.Keys.sealedFinal(job))
        } catch let error as NodeError {
            throw UsageError("fetch \(job): \(error.message)")
        } catch let error as StorageError {
            throw UsageError("fetch \(job): cannot read its final weights: \(error.message)")
        }
        let weights = try Sealer.open(sealed, with: try directory.sealingKey())
        _ = try SafeTensors(data: weights, source: "final weights of \(job)").tensors
        do { try weights.write(to: URL(fileURLWithPath: out), options: .atomic) } catch {
            throw UsageError("cannot write \(out): \(error.localizedDescription)")
        }
        print("wrote \(out) (\(weights.count) bytes, SHA-256 \(Weights.sha256Hex(weights)))")
    }
}
