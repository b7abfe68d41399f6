import Foundation
import MeshTensor
import Testing
@testable import MeshNN

struct SafeTensorsTests {
    static func sample() -> SafeTensors {
        var rng = SeededGenerator(seed: 3)
        return SafeTensors([
            "1.weight": Tensor(shape: [4, 3], generating: { _ in rng.nextNormal() }),
            "1.bias": Tensor(shape: [4], scalars: [0, -0.0, .infinity, 1e-40]),
            "10.weight": Tensor(shape: [2, 1, 2, 2], generating: { Float($0) }),
            "scalar": Tensor(shape: [], scalars: [42]),
            "empty": Tensor(zeros: [0, 5]),
        ], metadata: ["format": "pt"])
    }

    @Test func roundTripsBitForBit() throws {
        let original = Self.sample()
        let data = original.serialized()
        let decoded = try SafeTensors(data: data)
        #expect(decoded == original)
        #expect(decoded["1.bias"]!.scalars.map(\.bitPattern) == original["1.bias"]!.scalars.map(\.bitPattern))
        #expect(decoded.serialized() == data)
    }

    @Test func layoutIsSortedAndPadded() throws {
        let data = SafeTensors(["b": Tensor(shape: [1], scalars: [1]), "a": Tensor(shape: [2], scalars: [2, 3])]).serialized()
        let headerLength = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        #expect(headerLength % 8 == 0)
        let header = String(decoding: data[8..<(8 + headerLength)], as: UTF8.self)
        #expect(header.trimmingCharacters(in: .whitespaces)
            == #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#)
        #expect(data.count == 8 + headerLength + 12)
        #expect(Array(data.suffix(12)) == [0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 63])
    }

    @Test func writesAndReadsFiles() throws {
        let directory = try TorchInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("w.safetensors")
        try Self.sample().write(to: url)
        #expect(try SafeTensors(contentsOf: url) == Self.sample())
        let missing = try #require(throws: FormatError.self) {
            try SafeTensors(contentsOf: directory.appendingPathComponent("nope.safetensors"))
        }
        #expect(missing.code == .io && missing.message.contains("nope.safetensors"))
    }

    /// Builds a file from a raw header and payload.
    static func file(_ header: String, payload: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
        var data = Data()
        withUnsafeBytes(of: (declaredLength ?? UInt64(header.utf8.count)).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: payload)
        return data
    }

    static let corrupt: [(data: Data, code: FormatError.Code, message: String)] = [
        (Data([1, 2, 3]), .truncated, "3 bytes is too short"),
        (file("{}", declaredLength: 1000), .truncated, "header length 1000 runs past the end"),
        (file("{}", declaredLength: 1 << 40), .malformed, "is implausible"),
        (file("[1,2]"), .malformed, "does not start with '{'"),
        (file("{\"a\":"), .malformed, "bad header: not valid JSON"),
        (file(#"{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, payload: Array(repeating: 0, count: 8)),
         .unsupported, #"tensor "a" has dtype I64"#),
        (file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, payload: [0, 0, 0, 0]),
         .truncated, #"tensor "w": data_offsets [0, 8] fall outside the 4 data bytes"#),
        (file(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, payload: Array(repeating: 0, count: 8)),
         .malformed, #"tensor "w": shape [3] of F32 needs 12 bytes"#),
        (file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, payload: Array(repeating: 0, count: 8)),
         .truncated, #"tensor "w": data_offsets [8, 0]"#),
        (file(#"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, payload: Array(repeating: 0, count: 8)),
         .malformed, #"tensor "w" has shape [-2]"#),
        (file(#"{"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}}"#, payload: Array(repeating: 0, count: 8)),
         .malformed, #"tensor "w" has shape"#),
        (file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#, payload: Array(repeating: 0, count: 8)),
         .malformed, "data_offsets must be [begin, end]"),
        (file(#"{"w":{"dtype":"F32","shape":[2]}}"#, payload: Array(repeating: 0, count: 8)),
         .malformed, #"tensor "w": missing data_offsets"#),
        (file(#"{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, payload: Array(repeating: 0, count: 8)),
         .malformed, #"tensor "w".shape[0]: expected an integer, got 2.5"#),
        (file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
              payload: Array(repeating: 0, count: 12)), .malformed, #"tensors "a" and "b" overlap"#),
        (file(#"{"__metadata__":{"k":1}}"#), .malformed, "__metadata__.k: expected a string"),
    ]

    @Test(arguments: corrupt)
    func corruptFilesGiveErrorsNamingFileAndTensor(data: Data, code: FormatError.Code, message: String) throws {
        let error = try #require(throws: FormatError.self) { try SafeTensors(data: data, source: "bad.safetensors") }
        #expect(error.code == code, "\(error)")
        #expect(error.message.hasPrefix("bad.safetensors: "), "\(error)")
        #expect(error.message.contains(message), "\(error)")
    }

    /// Every prefix of a valid file is rejected with an error, never a crash.
    @Test func everyTruncationIsAnError() throws {
        let data = Self.sample().serialized()
        for length in 0..<data.count {
            #expect(throws: FormatError.self) { try SafeTensors(data: data.prefix(length)) }
        }
    }

    /// Random byte flips either decode or throw; nothing traps.
    @Test func corruptedBytesNeverCrash() throws {
        let data = Self.sample().serialized()
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<2000 {
            var copy = data
            for _ in 0..<3 {
                let at = Int(rng.next() % UInt64(copy.count))
                copy[at] = UInt8(truncatingIfNeeded: rng.next())
            }
            _ = try? SafeTensors(data: copy)
        }
    }

    @Test func halfPrecisionConversionIsExact() {
        #expect(SafeTensors.halfToFloat(0x3C00) == 1)
        #expect(SafeTensors.halfToFloat(0xC000) == -2)
        #expect(SafeTensors.halfToFloat(0x7BFF) == 65504)
        #expect(SafeTensors.halfToFloat(0x0001) == Float(sign: .plus, exponent: -24, significand: 1))
        #expect(SafeTensors.halfToFloat(0x8000).sign == .minus)
        #expect(SafeTensors.halfToFloat(0x7C00) == .infinity)
        #expect(SafeTensors.halfToFloat(0x7E00).isNaN)
        #expect(SafeTensors.halfToFloat(0x3555) == Float(0.333251953125))
    }

    @Test func shapesAreCheckedAgainstTheSpec() throws {
        let spec = try ModelSpec(contentsOf: TorchInterop.root.appendingPathComponent("examples/mlp.json"))
        var weights = SafeTensors(Dictionary(uniqueKeysWithValues: try spec.parameterShapes().map { ($0.name, Tensor(zeros: $0.shape)) }))
        try weights.checkShapes(against: spec)

        weights["3.weight"] = Tensor(zeros: [128, 64])
        let wrong = try #require(throws: FormatError.self) { try weights.checkShapes(against: spec, source: "w.safetensors") }
        #expect(wrong.code == .shapeMismatch)
        #expect(wrong.message.contains(#"w.safetensors: tensor "3.weight" has shape [128, 64] but the model spec needs [128, 256]"#))

        weights["3.weight"] = nil
        let missing = try #require(throws: FormatError.self) { try weights.checkShapes(against: spec) }
        #expect(missing.message.contains(#"missing tensor "3.weight" of shape [128, 256]"#))

        weights["3.weight"] = Tensor(zeros: [128, 256])
        weights["7.weight"] = Tensor(zeros: [1])
        let extra = try #require(throws: FormatError.self) { try weights.checkShapes(against: spec) }
        #expect(extra.message.contains(#"tensor "7.weight" (shape [1]) is not a parameter of the model spec"#))
    }

    // MARK: Interoperability with PyTorch and the reference `safetensors` package

    /// torch's `nn.Sequential` state_dict saved by `safetensors.torch` reads with the same values and our shapes.
    @Test(arguments: ["mlp.json", "cnn.json"])
    func readsWeightsSavedByTorch(_ specName: String) throws {
        let directory = try TorchInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let specURL = TorchInterop.root.appendingPathComponent("examples/\(specName)")
        let url = directory.appendingPathComponent("w.safetensors")
        try TorchInterop.run(["init", "--spec", specURL.path, "--seed", "5", "--out", url.path])
        let weights = try SafeTensors(contentsOf: url)
        try weights.checkShapes(against: try ModelSpec(contentsOf: specURL), source: url.path)
        let reference = try TorchInterop.dump(url).tensors
        #expect(Set(reference.keys) == Set(weights.names))
        for (name, entry) in reference {
            #expect(weights[name]?.shape == entry.shape)
            #expect(weights[name]?.scalars == entry.values, "\(name)")
        }
        // Our writer reproduces the reference writer's bytes exactly.
        #expect(weights.serialized() == (try Data(contentsOf: url)))
    }

    /// A file we write is read by `safetensors` with the same values, and re-saved byte for byte.
    @Test func referenceImplementationReadsOurFiles() throws {
        let directory = try TorchInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var ours = Self.sample()
        ours["names \"quoted\" \\ ünïcode"] = Tensor(shape: [1], scalars: [7])
        let url = directory.appendingPathComponent("ours.safetensors")
        try ours.write(to: url)
        let (metadata, reference) = try TorchInterop.dump(url)
        #expect(metadata == ["format": "pt"])
        #expect(Set(reference.keys) == Set(ours.names))
        for (name, entry) in reference {
            #expect(entry.dtype == "float32")
            #expect(entry.shape == ours[name]?.shape)
            #expect(entry.values.map(\.bitPattern) == ours[name]?.scalars.map(\.bitPattern), "\(name)")
        }
        let resaved = directory.appendingPathComponent("resaved.safetensors")
        try TorchInterop.run(["resave", "--in", url.path, "--out", resaved.path])
        #expect(try Data(contentsOf: resaved) == (try Data(contentsOf: url)))
    }

    /// F16, BF16 and F64 files written by `safetensors` convert to the same floats torch sees.
    @Test(arguments: ["float16", "bfloat16", "float64"])
    func readsOtherFloatTypes(_ dtype: String) throws {
        let directory = try TorchInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("f32.safetensors")
        var rng = SeededGenerator(seed: 9)
        try SafeTensors(["x": Tensor(shape: [3, 7], generating: { _ in rng.nextNormal() * 100 }),
                         "tiny": Tensor(shape: [4], scalars: [1e-6, -3e-8, 0, 65000])]).write(to: url)
        let converted = directory.appendingPathComponent("\(dtype).safetensors")
        try TorchInterop.run(["resave", "--in", url.path, "--out", converted.path, "--dtype", dtype])
        let ours = try SafeTensors(contentsOf: converted)
        for (name, entry) in try TorchInterop.dump(converted).tensors {
            #expect(entry.dtype == dtype)
            #expect(ours[name]?.shape == entry.shape)
            #expect(ours[name]?.scalars == entry.values, "\(name)")
        }
    }
}
