import Foundation
import Testing

/// Runs `tests/python/meshfl_torch.py` with the interop venv's Python (Debian's torch + PyPI safetensors).
///
/// A missing venv or torch is a test failure, not a skip: `scripts/setup` must have been run.
enum TorchInterop {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let python = root.appendingPathComponent(".venv-interop/bin/python")
    static let script = root.appendingPathComponent("tests/python/meshfl_torch.py")

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs the script with `arguments` and returns its standard output; throws on a non-zero exit.
    @discardableResult
    static func run(_ arguments: [String]) throws -> Data {
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            throw Failure(description: "\(python.path) is missing; run scripts/setup to build the interop venv")
        }
        let process = Process()
        process.executableURL = python
        process.arguments = [script.path] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "meshfl_torch.py \(arguments.joined(separator: " ")) exited "
                + "\(process.terminationStatus): \(String(decoding: stderr, as: UTF8.self))")
        }
        return stdout
    }

    /// `dump` of a safetensors file: name → (shape, values as Float).
    static func dump(_ url: URL) throws -> (metadata: [String: String]?, tensors: [String: (dtype: String, shape: [Int], values: [Float])]) {
        let json = try JSONSerialization.jsonObject(with: try run(["dump", "--in", url.path])) as? [String: Any]
        let tensors = try #require(json?["tensors"] as? [String: [String: Any]])
        var result: [String: (dtype: String, shape: [Int], values: [Float])] = [:]
        for (name, entry) in tensors {
            let shape = try #require(entry["shape"] as? [Int])
            let values = try #require(entry["values"] as? [Any]).map { value -> Float in
                if let string = value as? String { return Float(string) ?? 0 }
                return Float(try #require(value as? Double))
            }
            result[name] = (try #require(entry["dtype"] as? String), shape, values)
        }
        return (json?["metadata"] as? [String: String], result)
    }

    /// A fresh temporary directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("meshnn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
