import Foundation
import MeshLearning
import MeshNN
import MeshTensor
import Testing

struct WeightsDigestTests {
    @Test func digestIsOfTheCanonicalBytesWhateverTheInsertionOrder() throws {
        var a: [String: Tensor] = [:]
        a["1.bias"] = Tensor(shape: [2], scalars: [1, 2])
        a["0.weight"] = Tensor(shape: [2, 2], scalars: [3, 4, 5, 6])
        var b: [String: Tensor] = [:]
        b["0.weight"] = a["0.weight"]
        b["1.bias"] = a["1.bias"]
        #expect(WeightsDigest(a) == WeightsDigest(b))
        #expect(WeightsDigest(a) == WeightsDigest(hashing: SafeTensors(a).serialized()))
        b["1.bias"] = Tensor(shape: [2], scalars: [1, -0.0 + 2.0000002])
        #expect(WeightsDigest(a) != WeightsDigest(b))
        let zero = WeightsDigest(["x": Tensor(shape: [1], scalars: [0])])
        let negativeZero = WeightsDigest(["x": Tensor(shape: [1], scalars: [-0.0])])
        #expect(zero != negativeZero)
        #expect(WeightsDigest(["x": Tensor(shape: [1, 2], scalars: [0, 0])]) != WeightsDigest(["x": Tensor(shape: [2], scalars: [0, 0])]))
    }

    @Test func hexRoundTripsAndBadTextIsRefused() throws {
        let digest = WeightsDigest(["x": Tensor(shape: [1], scalars: [1])])
        #expect(digest.hex.count == 64)
        #expect(try WeightsDigest(hex: digest.hex) == digest)
        #expect(try WeightsDigest(hex: digest.hex.uppercased()) == digest)
        for bad in ["", "zz", String(digest.hex.dropLast()), digest.hex + "0", "g" + digest.hex.dropFirst()] {
            #expect(throws: VerificationError.self) { try WeightsDigest(hex: bad) }
        }
        let json = try JSONEncoder().encode(["d": digest])
        #expect(String(decoding: json, as: UTF8.self) == "{\"d\":\"\(digest.hex)\"}")
        #expect(try JSONDecoder().decode([String: WeightsDigest].self, from: json)["d"] == digest)
    }

    /// The reference writer (`safetensors.torch.save_file`, in the interop venv) writes the
    /// very bytes we hash, so a PyTorch user recomputes our digest with `hashlib.sha256`.
    @Test func referenceWriterProducesTheSameDigest() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let python = root.appendingPathComponent(".venv-interop/bin/python")
        try #require(FileManager.default.isExecutableFile(atPath: python.path),
                     "\(python.path) is missing; run scripts/setup to build the interop venv")
        let weights = Fixtures.weights(Fixtures.mlp, seed: 3)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshfl-digest-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let ours = directory.appendingPathComponent("ours.safetensors")
        try SafeTensors(weights).write(to: ours)
        let script = """
            import hashlib, sys
            from safetensors.torch import load_file, save_file
            tensors = load_file(sys.argv[1])
            save_file({k: v.contiguous() for k, v in tensors.items()}, sys.argv[2])
            print(hashlib.sha256(open(sys.argv[2], 'rb').read()).hexdigest())
            """
        let process = Process()
        process.executableURL = python
        process.arguments = ["-c", script, ours.path, directory.appendingPathComponent("theirs.safetensors").path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let printed = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let theirs = String(decoding: printed, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(theirs == WeightsDigest(weights).hex)
    }
}
