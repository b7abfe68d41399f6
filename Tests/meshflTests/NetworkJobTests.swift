import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The network job end to end: `meshfl node`, `submit`, `status`, `fetch` and
/// `demo` as separate OS processes on 127.0.0.1, with real sockets, a real
/// SQLite ledger and real Fashion-MNIST; faults are real SIGKILLs.
@Suite(.serialized)
struct NetworkJobTests {
    typealias CLI = TrainCommandTests

    /// A `meshfl node` child process, killed by pid when the test ends.
    final class Node {
        let process = Process()
        let address: String
        let log: URL

        init(_ arguments: [String], log: URL, environment: [String: String] = [:]) throws {
            process.executableURL = try CLI.binary
            process.arguments = ["node"] + arguments
            if !environment.isEmpty {
                process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            }
            let stdout = Pipe()
            process.standardOutput = stdout
            FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: log)
            self.log = log
            try process.run()
            var line = Data()
            let handle = stdout.fileHandleForReading
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                let byte = handle.readData(ofLength: 1)
                if byte.isEmpty || byte == Data("\n".utf8) { break }
                line.append(byte)
            }
            address = String(decoding: line, as: UTF8.self)
            guard address.hasPrefix("/ip4/") else {
                process.terminate()
                throw CLI.CLIFailure("node did not print its address; log: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            }
        }

        func kill9() {
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }

        deinit { kill9() }
    }

    struct Status: Decodable {
        struct Slot: Decodable { var shard: Int; var state: String; var trainer: String? }
        struct Trainer: Decodable { var trainer: String; var accepted: Int; var rejected: Int; var paid: Int64; var slashed: Bool }
        var status: String
        var round: Int
        var accuracy: [Double]
        var slots: [Slot]
        var trainers: [Trainer]
        var spent: Int64
        var escrow: Int64
    }

    let cli = CLI()

    func status(_ job: String, dataDir: String, in directory: URL) throws -> Status {
        let result = try cli.meshfl(["status", job, "--data-dir", dataDir, "--json"], in: directory)
        guard result.status == 0 else { throw CLI.CLIFailure("status failed: \(result.stderr)") }
        return try JSONDecoder().decode(Status.self, from: Data(result.stdout.utf8))
    }

    /// Polls `meshfl status` until `condition` holds (bounded).
    func waitFor(_ job: String, dataDir: String, in directory: URL, seconds: Double, _ condition: (Status) -> Bool) throws -> Status {
        let deadline = Date().addingTimeInterval(seconds)
        var last: Status?
        while Date() < deadline {
            let current = try status(job, dataDir: dataDir, in: directory)
            if condition(current) { return current }
            last = current
            Thread.sleep(forTimeInterval: 0.3)
        }
        throw CLI.CLIFailure("condition not met within \(seconds) s; last status: \(String(describing: last))")
    }

    func submit(_ directory: URL, rounds: Int, shards: Int, samples: Int, lease: Double = 60, verify: Double = 0.25) throws -> String {
        let result = try cli.meshfl(["submit", "--data-dir", "req", "--ledger", "local:dev.ledger", "--model", CLI.root.path + "/examples/mlp.json",
                                     "--rounds", String(rounds), "--shards", String(shards), "--samples", String(samples),
                                     "--reward", "100", "--lease-seconds", String(lease), "--verify-probability", String(verify),
                                     "--threads", "1"], in: directory)
        guard result.status == 0 else { throw CLI.CLIFailure("submit failed: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func trainer(_ name: String, bootstrap: String, in directory: URL, extra: [String] = []) throws -> Node {
        try Node(["--role", "trainer", "--data-dir", directory.appendingPathComponent(name).path, "--ledger",
                  "local:" + directory.appendingPathComponent("dev.ledger").path, "--bootstrap", bootstrap, "--cores", "1"] + extra,
                 log: directory.appendingPathComponent("\(name).log"))
    }

    func requester(in directory: URL, listen: String = "/ip4/127.0.0.1/tcp/0") throws -> Node {
        try Node(["--role", "requester", "--data-dir", directory.appendingPathComponent("req").path, "--ledger",
                  "local:" + directory.appendingPathComponent("dev.ledger").path, "--cores", "1", "--listen", listen],
                 log: directory.appendingPathComponent("requester-\(UUID().uuidString.prefix(4)).log"))
    }

    /// The whole demo on a small slice: the cheater is caught and slashed,
    /// the audit topic verifies, and PyTorch loads the final weights.
    @Test(.timeLimit(.minutes(5)))
    func demoCatchesTheCheaterAndPyTorchLoadsTheResult() throws {
        let directory = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try cli.meshfl(["demo", "--dir", "run", "--rounds", "2", "--shards", "4", "--trainers", "2",
                                     "--samples", "6000", "--out", "final.safetensors", "--timeout", "240", "--min-accuracy", "0.5"], in: directory)
        #expect(result.status == 0, "demo failed: \(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("(cheater)"))
        #expect(result.stdout.contains("running hashes verified"))
        let cheaterLine = result.stdout.split(separator: "\n").first { $0.contains("(cheater)") && $0.contains("yes") }
        #expect(cheaterLine != nil, "the cheater's row should say slashed: \(result.stdout)")
        let python = CLI.root.appendingPathComponent(".venv-interop/bin/python").path
        let check = Process()
        check.executableURL = URL(fileURLWithPath: python)
        check.arguments = ["-c", """
            import sys, torch, safetensors.torch
            m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784,256), torch.nn.ReLU(), torch.nn.Linear(256,128), torch.nn.ReLU(), torch.nn.Linear(128,10))
            m.load_state_dict(safetensors.torch.load_file(sys.argv[1]))
            print("loaded", sum(p.numel() for p in m.parameters()))
            """, directory.appendingPathComponent("final.safetensors").path]
        let out = Pipe()
        check.standardOutput = out
        try check.run()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        check.waitUntilExit()
        #expect(check.terminationStatus == 0)
        #expect(printed.contains("loaded 235146"))
    }

    /// A trainer that knows no requester learns the job from its signed
    /// announcement on `/meshfl/jobs/1`, relayed by a plain gossipsub peer
    /// (`meshfl p2p pubsub`), then dials the requester at the addresses the
    /// announcement carries and does the job.
    @Test(.timeLimit(.minutes(5)))
    func trainerLearnsTheJobThroughGossip() throws {
        let directory = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let relayID = try cli.meshfl(["p2p", "id", "--data-dir", "relay"], in: directory).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let relayAddress = "/ip4/127.0.0.1/tcp/\(try Self.freePort())/p2p/\(relayID)"
        let relay = Process()
        relay.executableURL = try CLI.binary
        relay.currentDirectoryURL = directory
        relay.arguments = ["p2p", "pubsub", "--data-dir", "relay", "--topic", "/meshfl/jobs/1", "--json", "--duration", "200",
                           "--listen", String(relayAddress.prefix(upTo: relayAddress.range(of: "/p2p/")!.lowerBound))]
        let stdin = Pipe()
        relay.standardInput = stdin
        let heard = directory.appendingPathComponent("relay.out")
        FileManager.default.createFile(atPath: heard.path, contents: nil)
        relay.standardOutput = try FileHandle(forWritingTo: heard)
        relay.standardError = try FileHandle(forWritingTo: directory.appendingPathComponent("relay.log").creatingFile())
        try relay.run()
        defer {
            if relay.isRunning { Glibc.kill(relay.processIdentifier, SIGKILL) }
            relay.waitUntilExit()
        }
        Thread.sleep(forTimeInterval: 0.5)
        let requester = try Node(["--role", "requester", "--data-dir", directory.appendingPathComponent("req").path, "--ledger",
                                  "local:" + directory.appendingPathComponent("dev.ledger").path, "--bootstrap", relayAddress],
                                 log: directory.appendingPathComponent("requester.log"))
        let job = try submit(directory, rounds: 2, shards: 2, samples: 1000, lease: 30, verify: 0)
        let trainer = try trainer("gossip", bootstrap: relayAddress, in: directory)
        let done = try waitFor(job, dataDir: "req", in: directory, seconds: 120) { $0.status == "done" }
        let trainerID = String(trainer.address.split(separator: "/").last!)
        #expect(done.trainers.map(\.trainer) == [trainerID])
        #expect(done.trainers.first?.accepted == 4)
        let log = try String(contentsOf: trainer.log, encoding: .utf8)
        #expect(log.contains("job discovered") && log.contains(job), "the trainer should have learnt \(job) from gossip: \(log)")
        let relayed = try String(contentsOf: heard, encoding: .utf8)
        #expect(relayed.contains(String(requester.address.split(separator: "/").last!)), "the relay saw the requester's announcement")
    }

    /// A trainer killed with SIGKILL while holding a lease loses only that
    /// lease: the task is reassigned, the job completes, nothing is paid twice.
    @Test(.timeLimit(.minutes(5)))
    func killedTrainerLosesOnlyItsLease() throws {
        let directory = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let requester = try requester(in: directory)
        let job = try submit(directory, rounds: 2, shards: 3, samples: 3000, lease: 3, verify: 0)
        let victim = try trainer("victim", bootstrap: requester.address, in: directory)
        let victimID = String(victim.address.split(separator: "/").last!)
        _ = try waitFor(job, dataDir: "req", in: directory, seconds: 60) { status in
            status.slots.contains { $0.state == "leased" && $0.trainer == victimID }
        }
        victim.kill9()
        let survivor = try trainer("survivor", bootstrap: requester.address, in: directory)
        let done = try waitFor(job, dataDir: "req", in: directory, seconds: 150) { $0.status == "done" }
        #expect(done.accuracy.count == 2)
        let tasks = done.trainers.reduce(0) { $0 + $1.accepted }
        #expect(tasks == 6, "every (round, shard) accepted exactly once")
        #expect(done.spent == 600, "6 tasks × 100 tinybars, paid once each")
        #expect(!done.trainers.contains { $0.slashed })
        _ = survivor
    }

    /// A requester killed with SIGKILL mid-job restarts from node.sqlite:
    /// accepted updates are kept, nothing is paid twice, the job completes.
    @Test(.timeLimit(.minutes(5)))
    func killedRequesterResumesWithoutDoublePayment() throws {
        let directory = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = try Self.freePort()
        let listen = "/ip4/127.0.0.1/tcp/\(port)"
        var requester: Node? = try requester(in: directory, listen: listen)
        let address = requester!.address
        let job = try submit(directory, rounds: 3, shards: 3, samples: 3000, lease: 10, verify: 0)
        let a = try trainer("a", bootstrap: address, in: directory)
        let b = try trainer("b", bootstrap: address, in: directory)
        let before = try waitFor(job, dataDir: "req", in: directory, seconds: 120) { $0.accuracy.count >= 1 }
        requester!.kill9()
        requester = nil
        requester = try self.requester(in: directory, listen: listen)
        let done = try waitFor(job, dataDir: "req", in: directory, seconds: 150) { $0.status == "done" }
        #expect(done.accuracy.count == 3)
        #expect(Array(done.accuracy.prefix(before.accuracy.count)) == before.accuracy, "rounds finished before the crash are kept")
        #expect(done.trainers.reduce(0) { $0 + $1.accepted } == 9)
        #expect(done.spent == 900)
        let ledger = try cli.meshfl(["ledger", "verify", "--ledger", directory.appendingPathComponent("dev.ledger").path], in: directory)
        #expect(ledger.status == 0, "ledger log replays: \(ledger.stdout) \(ledger.stderr)")
        _ = (a, b)
    }

    /// Trainers returning garbage — NaN weights, a digest that is not their
    /// weights' — are rejected and not slashed (nothing proves intent); an
    /// honest trainer finishes the job and is paid for every task.
    @Test(.timeLimit(.minutes(5)))
    func garbageResultsAreRejectedAndTheHonestTrainerFinishes() throws {
        let directory = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let requester = try requester(in: directory)
        let job = try submit(directory, rounds: 1, shards: 4, samples: 2000, lease: 20, verify: 0)
        let nan = try trainer("nan", bootstrap: requester.address, in: directory, extra: ["--cheat", "nan"])
        let wrongHash = try trainer("wrong-hash", bootstrap: requester.address, in: directory, extra: ["--cheat", "wrong-hash"])
        let nanID = String(nan.address.split(separator: "/").last!)
        let wrongID = String(wrongHash.address.split(separator: "/").last!)
        _ = try waitFor(job, dataDir: "req", in: directory, seconds: 60) { status in
            status.trainers.contains { $0.trainer == nanID && $0.rejected > 0 } && status.trainers.contains { $0.trainer == wrongID && $0.rejected > 0 }
        }
        let honest = try trainer("honest", bootstrap: requester.address, in: directory)
        let honestID = String(honest.address.split(separator: "/").last!)
        let done = try waitFor(job, dataDir: "req", in: directory, seconds: 150) { $0.status == "done" }
        for cheat in [nanID, wrongID] {
            let line = try #require(done.trainers.first { $0.trainer == cheat })
            #expect(line.accepted == 0 && line.paid == 0 && !line.slashed)
        }
        let paid = try #require(done.trainers.first { $0.trainer == honestID })
        #expect(paid.accepted == 4 && paid.paid == 400)
        let report = try cli.meshfl(["status", job, "--data-dir", "req"], in: directory)
        #expect(report.stdout.contains("job \(job): done"), "\(report.stdout)")
        let fetched = try cli.meshfl(["fetch", job, "--data-dir", "req", "--out", "w.safetensors"], in: directory)
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("w.safetensors").path))
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw CLI.CLIFailure("cannot bind a probe socket") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

extension URL {
    /// Creates an empty file here (replacing any) and returns the URL, for FileHandle(forWritingTo:).
    func creatingFile() -> URL {
        FileManager.default.createFile(atPath: path, contents: nil)
        return self
    }
}
