import Foundation
import Testing

/// The `meshfl train` / `eval` commands as a user runs them: a real process,
/// real files, exit codes and messages.
@Suite(.serialized)
struct TrainCommandTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `meshfl` binary built next to this test bundle.
    static var binary: URL {
        get throws {
            let candidates = [
                URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("meshfl"),
                Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("meshfl"),
                Bundle.main.bundleURL.appendingPathComponent("meshfl"),
            ]
            for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate.path) {
                return candidate
            }
            throw CLIFailure("meshfl binary not found next to the tests (\(candidates.map(\.path))); run `swift build` first")
        }
    }

    struct CLIFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func meshfl(_ arguments: [String], in directory: URL) throws -> Result {
        let process = Process()
        process.executableURL = try Self.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("meshfl-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A small separable CSV problem: 3 classes from 4 features.
    func writeToyData(in directory: URL) throws {
        var lines = ["label,a,b,c,d"]
        var state: UInt64 = 12345
        func noise() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 40) / Double(1 << 24) - 0.5
        }
        for i in 0..<300 {
            let label = i % 3
            let features = (0..<4).map { j in (j == label ? 2.0 : 0.0) + noise() }
            lines.append("\(label)," + features.map { String(format: "%.4f", $0) }.joined(separator: ","))
        }
        try lines.joined(separator: "\n").write(to: directory.appendingPathComponent("toy.csv"), atomically: true, encoding: .utf8)
        try #"{"format":"meshfl.model/1","input":[4],"layers":[{"type":"dense","units":16},{"type":"relu"},{"type":"dense","units":3}]}"#
            .write(to: directory.appendingPathComponent("toy.json"), atomically: true, encoding: .utf8)
    }

    @Test func trainsAndEvaluatesACSVDataset() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try writeToyData(in: directory)
        let train = try meshfl(["train", "--model", "toy.json", "--data", "toy.csv", "--epochs", "20", "--batch", "16",
                                "--lr", "0.1", "--out", "toy.safetensors", "--threads", "1"], in: directory)
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stdout.contains("epoch 20/20"))
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("toy.safetensors").path))
        let eval = try meshfl(["eval", "--model", "toy.json", "--data", "toy.csv", "--weights", "toy.safetensors", "--confusion"], in: directory)
        #expect(eval.status == 0, "\(eval.stderr)")
        let accuracy = try #require(eval.stdout.firstMatch(of: /accuracy ([0-9.]+)%/)).1
        #expect(try #require(Double(accuracy)) > 90)
    }

    @Test func sameSeedGivesIdenticalWeightFiles() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try writeToyData(in: directory)
        for name in ["a", "b"] {
            let run = try meshfl(["train", "--model", "toy.json", "--data", "toy.csv", "--epochs", "3", "--seed", "4",
                                  "--optimizer", "adam", "--out", "\(name).safetensors"], in: directory)
            #expect(run.status == 0, "\(run.stderr)")
        }
        let a = try Data(contentsOf: directory.appendingPathComponent("a.safetensors"))
        let b = try Data(contentsOf: directory.appendingPathComponent("b.safetensors"))
        #expect(a == b)
    }

    /// Bad input: one line naming the file or field, exit 2, nothing written.
    @Test("bad input fails with one line, status 2 and no output", arguments: [
        (["train", "--model", "missing.json", "--data", "toy.csv", "--out", "w.safetensors"], "missing.json"),
        (["train", "--model", "bad.json", "--data", "toy.csv", "--out", "w.safetensors"], "layers[0]"),
        (["train", "--model", "toy.json", "--data", "nothere.csv", "--out", "w.safetensors"], "nothere.csv"),
        (["train", "--model", "toy.json", "--data", "toy.csv", "--epochs", "0", "--out", "w.safetensors"], "--epochs"),
        (["train", "--model", "toy.json", "--data", "toy.csv", "--optimizer", "rmsprop", "--out", "w.safetensors"], "rmsprop"),
        (["train", "--model", "toy.json", "--data", "toy.csv", "--bogus", "--out", "w.safetensors"], "--bogus"),
        (["train", "--model", "mnist.json", "--data", "toy.csv", "--out", "w.safetensors"], "toy.csv"),
        (["eval", "--model", "toy.json", "--data", "toy.csv", "--weights", "wrong.safetensors"], "0.weight"),
    ])
    func badInput(_ arguments: [String], mentions: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try writeToyData(in: directory)
        try #"{"format":"meshfl.model/1","input":[4],"layers":[{"type":"dense","units":0}]}"#
            .write(to: directory.appendingPathComponent("bad.json"), atomically: true, encoding: .utf8)
        try #"{"format":"meshfl.model/1","input":[1,28,28],"layers":[{"type":"flatten"},{"type":"dense","units":10}]}"#
            .write(to: directory.appendingPathComponent("mnist.json"), atomically: true, encoding: .utf8)
        // Weights of the wrong shape for toy.json: 0.weight is [16, 4] there, [8, 4] here.
        try #"{"format":"meshfl.model/1","input":[4],"layers":[{"type":"dense","units":8},{"type":"relu"},{"type":"dense","units":3}]}"#
            .write(to: directory.appendingPathComponent("toy8.json"), atomically: true, encoding: .utf8)
        let wrong = try meshfl(["train", "--model", "toy8.json", "--data", "toy.csv", "--epochs", "1",
                                "--out", "wrong.safetensors"], in: directory)
        #expect(wrong.status == 0, "\(wrong.stderr)")

        let before = try Set(FileManager.default.contentsOfDirectory(atPath: directory.path))
        let result = try meshfl(arguments, in: directory)
        #expect(result.status == 2)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count >= 1 && lines.count <= 2, "\(result.stderr)")
        #expect(result.stderr.contains(mentions), "\(result.stderr)")
        let after = try Set(FileManager.default.contentsOfDirectory(atPath: directory.path))
        #expect(after == before)
    }

    @Test func helpExitsZero() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try meshfl(["train", "--help"], in: directory)
        #expect(result.status == 0)
        #expect(result.stdout.contains("--model"))
    }
}
