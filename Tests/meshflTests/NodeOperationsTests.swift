import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// How an operator runs nodes: settings from a config file and the
/// environment, JSON logs, and Prometheus `/metrics` whose counters agree
/// with the requester's own job status — separate processes, real sockets.
@Suite(.serialized)
struct NodeOperationsTests {
    typealias CLI = TrainCommandTests
    typealias Jobs = NetworkJobTests

    let cli = CLI()
    let jobs = Jobs()

    /// Reads the `/metrics` URL a node logged (JSON log lines) and fetches it.
    func scrape(log: URL) async throws -> [String: Double] {
        let deadline = Date().addingTimeInterval(30)
        var url: URL?
        while url == nil, Date() < deadline {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let message = object["msg"] as? String, message.hasPrefix("metrics at ") else { continue }
                url = URL(string: String(message.dropFirst("metrics at ".count)))
            }
            if url == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        let endpoint = try #require(url, "the node never logged its metrics address: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        var request = URLRequest(url: endpoint)
        request.timeoutInterval = 10
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        #expect(http.statusCode == 200)
        #expect((http.value(forHTTPHeaderField: "Content-Type") ?? "").hasPrefix("text/plain; version=0.0.4"))
        var series: [String: Double] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                Issue.record("not a Prometheus sample line: \(line)")
                continue
            }
            series[String(line[..<space])] = value
        }
        return series
    }

    /// A requester configured by `<data dir>/node.json` plus the environment,
    /// a trainer configured by the environment alone: the job runs, every log
    /// line is JSON, and both nodes' metrics match the job's status.
    @Test(.timeLimit(.minutes(5)))
    func configuredNodesServeMetricsThatMatchTheJob() async throws {
        let directory = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let requesterDir = directory.appendingPathComponent("req")
        try FileManager.default.createDirectory(at: requesterDir, withIntermediateDirectories: true)
        // Relative paths in a config file are the file's directory's: ../dev.ledger is <directory>/dev.ledger.
        try Data(#"{"role": "requester", "ledger": "local:../dev.ledger", "metrics": "127.0.0.1:0", "logFormat": "json"}"#.utf8)
            .write(to: requesterDir.appendingPathComponent("node.json"))
        let requesterLog = directory.appendingPathComponent("requester.log")
        let requester = try Jobs.Node(["--data-dir", requesterDir.path], log: requesterLog,
                                      environment: ["MESHFL_CORES": "1", "MESHFL_LISTEN": "/ip4/127.0.0.1/tcp/0"])
        let job = try jobs.submit(directory, rounds: 2, shards: 2, samples: 1000, lease: 30, verify: 0)
        let trainerLog = directory.appendingPathComponent("trainer.log")
        let trainer = try Jobs.Node([], log: trainerLog, environment: [
            "MESHFL_ROLE": "trainer", "MESHFL_DATA_DIR": directory.appendingPathComponent("t1").path,
            "MESHFL_LEDGER": "local:" + directory.appendingPathComponent("dev.ledger").path,
            "MESHFL_BOOTSTRAP": requester.address, "MESHFL_METRICS": "127.0.0.1:0", "MESHFL_LOG_FORMAT": "json",
        ])
        let done = try jobs.waitFor(job, dataDir: "req", in: directory, seconds: 180) { $0.status == "done" }
        #expect(done.accuracy.count == 2)
        let accepted = done.trainers.reduce(0) { $0 + $1.accepted }
        #expect(accepted == 4)

        let ours = try await scrape(log: requesterLog)
        let label = "{job=\"\(job)\"}"
        #expect(ours["meshfl_node_info{role=\"requester\"}"] == 1)
        #expect(ours["meshfl_results_accepted_total\(label)"] == Double(accepted))
        #expect(ours["meshfl_rounds_finished_total\(label)"] == 2)
        #expect(ours["meshfl_paid_tinybars_total\(label)"] == Double(done.spent))
        #expect(ours["meshfl_tasks_leased_total\(label)"].map { $0 >= Double(accepted) } == true)
        #expect(ours["meshfl_round_accuracy\(label)"] == done.accuracy.last)
        #expect((ours["meshfl_peers_connected"] ?? 0) >= 1)
        let theirs = try await scrape(log: trainerLog)
        #expect(theirs["meshfl_node_info{role=\"trainer\"}"] == 1)
        #expect(theirs["meshfl_results_accepted_total\(label)"] == Double(accepted))
        #expect(theirs["meshfl_paid_tinybars_total\(label)"] == Double(done.spent))

        for log in [requesterLog, trainerLog] {
            let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
            #expect(!lines.isEmpty)
            for line in lines {
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["level"] != nil && object?["msg"] != nil, "\(log.lastPathComponent): not a JSON log line: \(line)")
            }
        }
        _ = (requester, trainer)
    }

    /// The nice value of each thread of a running process, by thread name (Linux `/proc`).
    static func niceByThread(_ pid: Int32) -> [(name: String, nice: Int)] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.compactMap { tid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            // Fields after the name: state is field 3, nice field 19.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            let name = (try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            return fields.count > 16 ? (name, Int(fields[16]) ?? -100) : nil
        }
    }

    /// A trainer lends idle CPU: its main thread, event loops and blocking pool (training) run at nice 10 unless
    /// told otherwise; a requester at normal priority; `--nice` and `MESHFL_NICE` set it, out-of-range values are refused.
    @Test(.timeLimit(.minutes(2)))
    func trainersRunAtIdlePriority() throws {
        let directory = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let requester = try jobs.requester(in: directory)
        let trainer = try jobs.trainer("t1", bootstrap: requester.address, in: directory)
        let chosen = try jobs.trainer("t2", bootstrap: requester.address, in: directory, extra: ["--nice", "5"])
        let fromEnvironment = try Jobs.Node(["--role", "validator", "--data-dir", directory.appendingPathComponent("v").path, "--ledger",
                                             "local:" + directory.appendingPathComponent("dev.ledger").path],
                                            log: directory.appendingPathComponent("v.log"), environment: ["MESHFL_NICE": "7"])
        // The node's own threads: the main thread (named after the binary), NIO's event loops and its blocking pool.
        func own(_ node: Jobs.Node) -> [(name: String, nice: Int)] {
            Self.niceByThread(node.process.processIdentifier).filter { $0.name == "meshfl" || $0.name.hasPrefix("NIO-") || $0.name.hasPrefix("SGLTN-") }
        }
        for (node, expected) in [(trainer, 10), (chosen, 5), (fromEnvironment, 7), (requester, 0)] {
            let threads = own(node)
            #expect(threads.count >= 3, "\(node.address): \(threads)")
            #expect(threads.allSatisfy { $0.nice == expected }, "\(node.address) should run at nice \(expected): \(threads)")
        }
        let refused = try cli.meshfl(["node", "--role", "trainer", "--data-dir", directory.appendingPathComponent("t3").path, "--nice", "25",
                                      "--duration", "1"], in: directory)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("nice must be between 0 (normal priority) and 19 (lowest), got 25"), "stderr: \(refused.stderr)")
        _ = (requester, trainer, chosen, fromEnvironment)
    }

    /// Bad settings stop the node before it starts, naming the source and the setting.
    @Test(arguments: [
        (#"{"role": "trainer", "cores": 2, "bootstrapp": []}"#, [:], "unknown key \"bootstrapp\""),
        (#"{"role": "trainer", "cores": "two"}"#, [:], "cores should be a whole number"),
        (#"{"role": "trainer"}"#, ["MESHFL_CORES": "two"], "MESHFL_CORES=two: expected a whole number"),
        (#"{"role": "validatr"}"#, [:], "role validatr"),
        (#"{"role": "trainer", "metrics": "9464"}"#, [:], "metrics address 9464: expected HOST:PORT"),
        (#"[1, 2]"#, [:], "is not a JSON object"),
    ] as [(String, [String: String], String)])
    func badSettingsAreRefusedByName(config: String, environment: [String: String], expected: String) throws {
        let directory = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("node.json")
        try Data(config.utf8).write(to: file)
        let process = Process()
        process.executableURL = try CLI.binary
        process.arguments = ["node", "--config", file.path, "--data-dir", directory.appendingPathComponent("d").path, "--duration", "1"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = Pipe()
        try process.run()
        let text = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 2)
        #expect(text.contains(expected), "stderr: \(text)")
    }
}
