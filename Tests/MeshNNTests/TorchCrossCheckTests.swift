import Foundation
import MeshTensor
import Testing
@testable import MeshNN

/// meshfl and PyTorch agree on weights, predictions and gradients.
///
/// PyTorch (Debian's python3-torch) runs the same spec as an `nn.Sequential`
/// through `tests/python/meshfl_torch.py`; weights cross in safetensors.
@Suite(.serialized)
struct TorchCrossCheckTests {
    static let examples = TorchInterop.root.appendingPathComponent("examples")

    static func testImages(_ count: Int) throws -> Dataset {
        let test = try Dataset.fashionMNIST(split: .test)
        return test.subset(Array(0..<count))
    }

    func writeInputs(_ tensor: Tensor, to url: URL) throws {
        try SafeTensors(["inputs": tensor]).write(to: url)
    }

    func torchPredict(spec: URL, weights: URL, inputs: URL, directory: URL) throws -> Tensor {
        let out = directory.appendingPathComponent("predictions.safetensors")
        try TorchInterop.run(["predict", "--spec", spec.path, "--weights", weights.path, "--inputs", inputs.path, "--out", out.path])
        return try #require(try SafeTensors(contentsOf: out)["outputs"])
    }

    @Test("PyTorch loads our weights and predicts what we predict on 100 test images", arguments: ["mlp.json", "cnn.json"])
    func ourWeightsInPyTorch(_ specName: String) throws {
        let directory = try TorchInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let specURL = Self.examples.appendingPathComponent(specName)
        let spec = try ModelSpec(contentsOf: specURL)
        let model = try Sequential(spec: spec, seed: 42)
        // A few training steps so the weights are not just the initialisation.
        let images = try Self.testImages(100)
        let trainer = Trainer(config: TrainingConfig(epochs: 1, batchSize: 25, learningRate: 0.05, seed: 3))
        trainer.train(model, on: images)

        let weightsURL = directory.appendingPathComponent("w.safetensors")
        try SafeTensors(Dictionary(uniqueKeysWithValues: model.stateDict.map { ($0.name, $0.tensor) })).write(to: weightsURL)
        let inputsURL = directory.appendingPathComponent("x.safetensors")
        try writeInputs(images.features, to: inputsURL)

        let ours = model.forward(images.features, training: false)
        let theirs = try torchPredict(spec: specURL, weights: weightsURL, inputs: inputsURL, directory: directory)
        #expect(theirs.shape == [100, 10])
        #expect(ours.isClose(to: theirs, absolute: 1e-4, relative: 1e-4),
                "max difference \(zip(ours.scalars, theirs.scalars).map { abs($0 - $1) }.max() ?? 0)")
        #expect(ours.argmaxRows() == theirs.argmaxRows())
    }

    @Test("we load weights PyTorch initialised and predict what it predicts", arguments: ["mlp.json", "cnn.json"])
    func pyTorchWeightsInMeshfl(_ specName: String) throws {
        let directory = try TorchInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let specURL = Self.examples.appendingPathComponent(specName)
        let weightsURL = directory.appendingPathComponent("torch.safetensors")
        try TorchInterop.run(["init", "--spec", specURL.path, "--seed", "7", "--out", weightsURL.path])

        let spec = try ModelSpec(contentsOf: specURL)
        let model = try Sequential(spec: spec, seed: 0)
        try model.load(try SafeTensors(contentsOf: weightsURL).tensors)
        let images = try Self.testImages(100)
        let inputsURL = directory.appendingPathComponent("x.safetensors")
        try writeInputs(images.features, to: inputsURL)

        let ours = model.forward(images.features, training: false)
        let theirs = try torchPredict(spec: specURL, weights: weightsURL, inputs: inputsURL, directory: directory)
        #expect(ours.isClose(to: theirs, absolute: 1e-4, relative: 1e-4))
        #expect(ours.argmaxRows() == theirs.argmaxRows())
    }

    static let gradientSpecs: [String] = [
        #"{"format":"meshfl.model/1","input":[1,8,8],"layers":[{"type":"conv2d","filters":3,"kernel":3,"padding":1},{"type":"gelu"},{"type":"avgpool2d","kernel":2},{"type":"conv2d","filters":4,"kernel":3,"stride":2},{"type":"tanh"},{"type":"flatten"},{"type":"layernorm"},{"type":"dense","units":5},{"type":"sigmoid"},{"type":"dense","units":3}]}"#,
        #"{"format":"meshfl.model/1","input":[2,6,6],"layers":[{"type":"conv2d","filters":4,"kernel":5,"padding":2,"bias":false},{"type":"relu"},{"type":"maxpool2d","kernel":2},{"type":"flatten"},{"type":"dense","units":4}],"loss":"mse"}"#,
    ]

    @Test("gradients of a whole network match PyTorch autograd", arguments: gradientSpecs.indices)
    func gradientsMatchAutograd(_ index: Int) throws {
        let directory = try TorchInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let specURL = directory.appendingPathComponent("spec.json")
        try Data(Self.gradientSpecs[index].utf8).write(to: specURL)
        let spec = try ModelSpec(contentsOf: specURL)
        let model = try Sequential(spec: spec, seed: 5)
        let weightsURL = directory.appendingPathComponent("w.safetensors")
        try SafeTensors(Dictionary(uniqueKeysWithValues: model.stateDict.map { ($0.name, $0.tensor) })).write(to: weightsURL)

        var generator = SeededGenerator(seed: 17)
        let batch = 6
        let inputs = Tensor(shape: [batch] + spec.input) { _ in generator.nextNormal() }
        let classes = try spec.outputShape().reduce(1, *)
        let labels = (0..<batch).map { _ in Int32(generator.next() % UInt64(classes)) }
        let inputsURL = directory.appendingPathComponent("x.safetensors")
        try writeInputs(inputs, to: inputsURL)
        let targetsURL = directory.appendingPathComponent("y.safetensors")
        let targets: Tensor
        if spec.loss == .mse {
            var oneHot = Tensor(zeros: [batch, classes])
            for (n, label) in labels.enumerated() { oneHot[n, Int(label)] = 1 }
            targets = oneHot
        } else {
            targets = Tensor(shape: [batch], scalars: labels.map(Float.init))
        }
        try SafeTensors(["targets": targets]).write(to: targetsURL)
        let gradientsURL = directory.appendingPathComponent("g.safetensors")
        try TorchInterop.run(["grad", "--spec", specURL.path, "--weights", weightsURL.path, "--inputs", inputsURL.path,
                              "--targets", targetsURL.path, "--out", gradientsURL.path])
        let torch = try SafeTensors(contentsOf: gradientsURL)

        model.zeroGradients()
        let outputs = model.forward(inputs, training: true)
        let (loss, outputGradient) = Loss.compute(spec.loss, outputs, labels: labels)
        model.backward(outputGradient)
        let torchLoss = try #require(torch["loss"]).scalars[0]
        #expect(abs(loss - torchLoss) <= 1e-5 * max(1, abs(torchLoss)))
        for parameter in model.parameters {
            let expected = try #require(torch[parameter.name], "PyTorch has no gradient for \(parameter.name)")
            #expect(parameter.gradient.isClose(to: expected, absolute: 1e-5, relative: 1e-3),
                    "\(parameter.name): max difference \(zip(parameter.gradient.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0)")
        }
    }
}
