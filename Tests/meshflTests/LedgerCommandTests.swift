import Foundation
import Testing

/// `meshfl ledger` as a user runs it: the built binary on a real ledger file,
/// exit codes and printed output; the file is then tampered with through
/// SQLite (Python's sqlite3) and `verify` must name the bad sequence number.
@Suite(.serialized)
struct LedgerCommandTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    let directory: URL
    var ledgerPath: String { directory.appendingPathComponent("ledger.sqlite").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshfl-ledger-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Runs `meshfl ledger SUBCOMMAND… --ledger PATH ARGS…`.
    func ledger(_ subcommand: [String], _ arguments: [String] = []) throws -> Run {
        try run(TrainCommandTests.binary, ["ledger"] + subcommand + ["--ledger", ledgerPath] + arguments)
    }

    func run(_ executable: URL, _ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                   stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// The value after `label ` on the line that starts with it.
    func field(_ label: String, in text: String) throws -> String {
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix(label + " ") })
        return String(line.dropFirst(label.count + 1))
    }

    @Test func fundBalanceTopicsVerifyAndTamperDetection() throws {
        defer { try? FileManager.default.removeItem(at: directory) }

        let funded = try ledger(["fund"], ["--new", "--amount", "5000"])
        #expect(funded.status == 0, "\(funded.stderr)")
        let account = try field("account", in: funded.stdout)
        let key = try field("key", in: funded.stdout)
        #expect(key.count == 64)
        #expect(try ledger(["balance", account]).stdout == "5000\n")

        let topped = try ledger(["fund", account], ["--amount", "250"])
        #expect(topped.status == 0)
        #expect(topped.stdout == "\(account)\t5250\n")
        #expect(try ledger(["balance", account]).stdout == "5250\n")
        #expect(try ledger(["accounts"]).stdout.contains("\(account)\t5250"))

        let signer = ["--account", account, "--key", key]
        let created = try ledger(["topic", "create"], ["--memo", "job-1 audit"] + signer)
        #expect(created.status == 0, "\(created.stderr)")
        let topic = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(topic.hasPrefix("0.0."))

        let events = [#"{"evt":"trainer_joined","task":1}"#, #"{"evt":"update_submitted","task":1}"#, #"{"evt":"paid","task":1}"#]
        for (i, event) in events.enumerated() {
            let submitted = try ledger(["topic", "submit", topic, event], signer)
            #expect(submitted.status == 0, "\(submitted.stderr)")
            #expect(submitted.stdout.hasPrefix("sequence \(i + 1)\t"))
            #expect(try field("sequence \(i + 1)\tconsensus", in: submitted.stdout).contains("running hash "))
        }
        let listed = try ledger(["topic", "messages", topic])
        let lines = listed.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        for (i, line) in lines.enumerated() {
            #expect(line.hasPrefix("\(i + 1)\t"))
            #expect(line.hasSuffix("\t\(events[i])"))
            #expect(line.contains("\t\(account)\t"))
        }
        #expect(try ledger(["topic", "messages", topic], ["--from", "3"]).stdout.split(separator: "\n").count == 1)

        let ok = try ledger(["verify"])
        #expect(ok.status == 0)
        #expect(ok.stdout.hasPrefix("OK ("))
        #expect(ok.stdout.contains("3 topic messages"))

        // Someone edits message 2 in the file (the stored running hashes stay as they were).
        let topicNum = try #require(topic.split(separator: ".").last)
        let python = URL(fileURLWithPath: "/usr/bin/python3")
        let tamper = try run(python, ["-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            n = db.execute("UPDATE topic_messages SET contents = ? WHERE topic = ? AND sequence = 2",
                           (b'{"evt":"update_submitted","task":2}', int(sys.argv[2]))).rowcount
            db.commit()
            print(n)
            """, ledgerPath, String(topicNum)])
        #expect(tamper.status == 0, "\(tamper.stderr)")
        #expect(tamper.stdout == "1\n")

        let bad = try ledger(["verify"])
        #expect(bad.status != 0)
        #expect(bad.stdout.contains("FAILED at topic \(topic) sequence 2"), "\(bad.stdout)")
        #expect(try ledger(["topic", "messages", topic]).stdout.contains(#"{"evt":"update_submitted","task":2}"#))
    }

    @Test func badInputIsNamed() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let badAccount = try ledger(["balance", "not-an-account"])
        #expect(badAccount.status != 0)
        #expect(badAccount.stderr.contains("not-an-account"))
        let missingKey = try ledger(["topic", "create"], ["--account", "0.0.1001"])
        #expect(missingKey.status != 0)
        #expect(missingKey.stderr.contains("--key"))
        let unknown = try ledger(["balance", "0.0.4242"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("0.0.4242"))
    }
}
