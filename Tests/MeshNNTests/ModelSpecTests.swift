import Foundation
import Testing
@testable import MeshNN

struct ModelSpecTests {
    static let examples = TorchInterop.root.appendingPathComponent("examples")

    static func spec(_ layers: String, input: String = "[1, 28, 28]", extra: String = "") -> String {
        #"{"format":"meshfl.model/1","input":\#(input),"layers":[\#(layers)]\#(extra)}"#
    }

    @Test func referenceMLPLoadsWithTorchShapes() throws {
        let spec = try ModelSpec(contentsOf: Self.examples.appendingPathComponent("mlp.json"))
        #expect(spec.input == [1, 28, 28])
        #expect(spec.loss == .crossEntropy)
        #expect(try spec.validate() == [[784], [256], [256], [128], [128], [10]])
        let parameters = try spec.parameterShapes()
        #expect(parameters.map(\.name) == ["1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"])
        #expect(parameters.map(\.shape) == [[256, 784], [256], [128, 256], [128], [10, 128], [10]])
        #expect(try spec.parameterCount() == 784 * 256 + 256 + 256 * 128 + 128 + 1290)
    }

    @Test func referenceCNNLoads() throws {
        let spec = try ModelSpec(contentsOf: Self.examples.appendingPathComponent("cnn.json"))
        let shapes = try spec.validate()
        #expect(shapes[5] == [64, 7, 7])
        #expect(shapes.last == [10])
        #expect(try spec.parameterShapes().first!.shape == [32, 1, 5, 5])
        #expect(try spec.parameterShapes()[4] == ("7.weight", [128, 3136]))
    }

    @Test func decodesEveryLayerTypeWithDefaults() throws {
        let json = Self.spec(#"""
            {"type":"conv2d","filters":4,"kernel":3},
            {"type":"conv2d","filters":4,"kernel":3,"stride":2,"padding":1,"bias":false},
            {"type":"maxpool2d","kernel":2},{"type":"avgpool2d","kernel":2,"stride":1},
            {"type":"layernorm"},{"type":"gelu"},{"type":"tanh"},{"type":"sigmoid"},
            {"type":"flatten"},{"type":"dropout","p":0.25},{"type":"dense","units":3,"bias":false},{"type":"relu"}
            """#, input: "[2, 12, 12]", extra: #","loss":"mse""#)
        let spec = try ModelSpec(json: Data(json.utf8))
        #expect(spec.layers == [
            .conv2d(filters: 4, kernel: 3), .conv2d(filters: 4, kernel: 3, stride: 2, padding: 1, bias: false),
            .maxpool2d(kernel: 2), .avgpool2d(kernel: 2, stride: 1), .layernorm(), .gelu, .tanh, .sigmoid,
            .flatten, .dropout(p: 0.25), .dense(units: 3, bias: false), .relu,
        ])
        #expect(spec.loss == .mse)
        #expect(try spec.validate().map { $0 } == [[4, 10, 10], [4, 5, 5], [4, 2, 2], [4, 1, 1], [4, 1, 1], [4, 1, 1],
                                                   [4, 1, 1], [4, 1, 1], [4], [4], [3], [3]])
        #expect(try spec.parameterShapes().map(\.name) == ["0.weight", "0.bias", "1.weight", "4.weight", "4.bias", "10.weight"])
        // Saving omits defaults and keeps floats short; loading the saved form gives the same spec.
        let saved = String(decoding: spec.jsonData(pretty: false), as: UTF8.self)
        #expect(saved.contains(#"{"p":0.25,"type":"dropout"}"#) && saved.contains(#"{"type":"layernorm"}"#), "\(saved)")
        #expect(saved.contains(#"{"bias":false,"filters":4,"kernel":3,"padding":1,"stride":2,"type":"conv2d"}"#), "\(saved)")
        #expect(try ModelSpec(json: spec.jsonData()) == spec)
    }

    @Test func saveIsStableAndRoundTrips() throws {
        let spec = try ModelSpec(contentsOf: Self.examples.appendingPathComponent("cnn.json"))
        let data = spec.jsonData()
        #expect(try ModelSpec(json: data) == spec)
        #expect(try ModelSpec(json: data).jsonData() == data)
        let text = String(decoding: spec.jsonData(pretty: false), as: UTF8.self)
        #expect(text.hasPrefix(#"{"format":"meshfl.model/1","input":[1,28,28],"layers":[{"filters":32,"kernel":5,"padding":2,"type":"conv2d"}"#))
        #expect(text.hasSuffix(#""loss":"cross_entropy"}"#))
        let directory = try TorchInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("spec.json")
        try spec.write(to: url)
        #expect(try ModelSpec(contentsOf: url) == spec)
    }

    static let invalid: [(json: String, message: String)] = [
        (#"{"input":[1,28,28],"layers":[{"type":"flatten"}]}"#, "format: missing"),
        (#"{"format":"meshfl.model/2","input":[1,28,28],"layers":[{"type":"flatten"}]}"#, #"format: "meshfl.model/2" is not supported"#),
        (#"{"format":"meshfl.model/1","layers":[{"type":"flatten"}]}"#, "input: missing"),
        (spec(#"{"type":"flatten"},{"type":"dense","units":10}"#, input: "[]"), "input: is empty"),
        (spec(#"{"type":"flatten"},{"type":"dense","units":10}"#, input: "[1, 0, 28]"), "input[1]: 0 must be positive"),
        (spec(""), "layers: is empty"),
        (spec(#"{"type":"flatten"},{"type":"dense","units":10}"#, extra: #","optimizer":"sgd""#), "optimizer: unknown field"),
        (spec(#"{"type":"flatten"},{"type":"convolution","units":10}"#), #"layers[1].type: "convolution" is not a layer type"#),
        (spec(#"{"type":"flatten"},{"units":10}"#), "layers[1].type: missing"),
        (spec(#"{"type":"flatten"},{"type":"dense"}"#), "layers[1].units: missing"),
        (spec(#"{"type":"flatten"},{"type":"dense","units":"ten"}"#), "layers[1].units: expected a number"),
        (spec(#"{"type":"flatten"},{"type":"dense","units":2.5}"#), "layers[1].units: expected an integer, got 2.5"),
        (spec(#"{"type":"flatten"},{"type":"dense","units":1e30}"#), "layers[1].units: expected an integer, got 1e+30"),
        (spec(#"{"type":"flatten"},{"type":"dense","units":10}"#, input: "[1, 28.5]"), "input[1]: expected an integer, got 28.5"),
        (spec(#"{"type":"flatten"},{"type":"dense","units":10,"kernel":3}"#), "layers[1].kernel: unknown field; a dense layer takes units, bias"),
        (spec(#"{"type":"relu","p":0.5},{"type":"flatten"},{"type":"dense","units":10}"#), "layers[0].p: unknown field; a relu layer takes no fields"),
        (spec(#"{"type":"flatten"},{"type":"dense","units":0}"#), "layers[1].units: 0 must be positive"),
        (spec(#"{"type":"dense","units":10}"#), #"layers[0]: dense needs a flat input but gets [1, 28, 28]; add {"type":"flatten"} before it"#),
        (spec(#"{"type":"conv2d","filters":-2,"kernel":3},{"type":"flatten"},{"type":"dense","units":10}"#), "layers[0].filters: -2 must be positive"),
        (spec(#"{"type":"conv2d","filters":2,"kernel":3,"stride":0},{"type":"flatten"},{"type":"dense","units":10}"#), "layers[0].stride: 0 must be positive"),
        (spec(#"{"type":"conv2d","filters":2,"kernel":3,"padding":-1},{"type":"flatten"},{"type":"dense","units":10}"#), "layers[0].padding: -1 must be zero or positive"),
        (spec(#"{"type":"maxpool2d","kernel":2},{"type":"maxpool2d","kernel":2},{"type":"maxpool2d","kernel":2},{"type":"conv2d","filters":2,"kernel":7},{"type":"flatten"},{"type":"dense","units":10}"#, input: "[1, 40, 40]"),
         "layers[3].kernel: 7 is larger than the input 5x5; use a kernel ≤ 5 or padding"),
        (spec(#"{"type":"conv2d","filters":2,"kernel":9,"padding":1},{"type":"flatten"},{"type":"dense","units":10}"#, input: "[1, 6, 6]"),
         "layers[0].kernel: 9 is larger than the padded input 8x8 (padding 1); use a kernel ≤ 8 or more padding"),
        (spec(#"{"type":"avgpool2d","kernel":30},{"type":"flatten"},{"type":"dense","units":10}"#), "layers[0].kernel: 30 is larger than the input 28x28"),
        (spec(#"{"type":"maxpool2d","kernel":2,"stride":0},{"type":"flatten"},{"type":"dense","units":10}"#), "layers[0].stride: 0 must be positive"),
        (spec(#"{"type":"flatten"},{"type":"conv2d","filters":2,"kernel":3}"#), "layers[1]: conv2d needs a [channels, height, width] input but gets [784]"),
        (spec(#"{"type":"flatten"},{"type":"dropout","p":1.0},{"type":"dense","units":10}"#), "layers[1].p: 1.0 must be in [0, 1)"),
        (spec(#"{"type":"flatten"},{"type":"layernorm","eps":0},{"type":"dense","units":10}"#), "layers[1].eps: 0.0 must be a small positive number"),
        (spec(#"{"type":"flatten"},{"type":"dense","units":10}"#, extra: #","loss":"hinge""#), #"loss: "hinge" is not a loss"#),
        (spec(#"{"type":"relu"}"#), "loss: cross_entropy needs the last layer to output scores"),
        (spec(#"{"type":"flatten"},{"type":"dense","units":4000000000},{"type":"dense","units":4000000000}"#), "layers[1]: a tensor of shape [4000000000, 784] is too large"),
        ("{not json", "not valid JSON"),
        (#"[1, 2]"#, "spec: expected"),
    ]

    @Test(arguments: invalid)
    func invalidSpecsNameTheLayerAndField(json: String, message: String) throws {
        let error = try #require(throws: FormatError.self) { try ModelSpec(json: Data(json.utf8), source: "bad.json") }
        #expect(error.code == .invalidSpec)
        #expect(error.message.hasPrefix("bad.json: "), "\(error.message)")
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test func missingFileIsAnIOError() throws {
        let error = try #require(throws: FormatError.self) {
            try ModelSpec(contentsOf: URL(fileURLWithPath: "/nonexistent/spec.json"))
        }
        #expect(error.code == .io)
        #expect(error.message.contains("/nonexistent/spec.json"))
    }

    static let torchSpecs: [String] = [
        "mlp.json", "cnn.json",
        spec(#"{"type":"conv2d","filters":3,"kernel":4,"stride":3,"padding":2,"bias":false},{"type":"avgpool2d","kernel":3,"stride":2},{"type":"layernorm","eps":0.001},{"type":"gelu"},{"type":"maxpool2d","kernel":2,"stride":1},{"type":"flatten"},{"type":"dropout","p":0.5},{"type":"dense","units":7,"bias":false},{"type":"tanh"},{"type":"layernorm"},{"type":"dense","units":2},{"type":"sigmoid"}"#,
             input: "[2, 17, 19]"),
    ]

    /// PyTorch builds the same `nn.Sequential`: same state_dict names/shapes and layer output shapes.
    @Test(arguments: torchSpecs)
    func shapesMatchTorch(_ source: String) throws {
        let directory = try TorchInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url: URL
        if source.hasSuffix(".json") {
            url = Self.examples.appendingPathComponent(source)
        } else {
            url = directory.appendingPathComponent("spec.json")
            try Data(source.utf8).write(to: url)
        }
        let spec = try ModelSpec(contentsOf: url)
        let output = try TorchInterop.run(["shapes", "--spec", url.path])
        let json = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
        let torchParameters = try #require(json["parameters"] as? [[Any]])
        let ours = try spec.parameterShapes()
        #expect(ours.map(\.name) == torchParameters.map { $0[0] as? String ?? "" })
        #expect(ours.map(\.shape) == torchParameters.map { $0[1] as? [Int] ?? [] })
        #expect(try spec.validate() == (json["outputs"] as? [[Int]]))
    }
}
