import MeshTensor
import Testing
@testable import MeshNN

/// Training split into step ranges, with the state saved and restored into a
/// fresh model and trainer in between, gives the bits of one uninterrupted run.
struct TrainerResumeTests {
    static let spec = ModelSpec(
        input: [1, 28, 28],
        layers: [.flatten, .dense(units: 24), .relu, .dropout(p: 0.25), .dense(units: 10)])

    static let optimizers: [OptimizerKind] = [.sgd(momentum: 0.9), .adam(), .sgd()]

    @Test("steps run in pieces with state restored equal one train() call", arguments: optimizers)
    func resumedRunMatchesUninterrupted(optimizer: OptimizerKind) throws {
        let data = try Dataset.fashionMNIST(split: .test).subset(Array(0..<300))
        let config = TrainingConfig(epochs: 2, batchSize: 32, learningRate: 0.01, optimizer: optimizer,
                                    schedule: .step(stepSize: 1, gamma: 0.5), seed: 5)

        let reference = try Sequential(spec: Self.spec, seed: 5)
        Trainer(config: config).train(reference, on: data)

        let first = try Sequential(spec: Self.spec, seed: 5)
        let trainer = Trainer(config: config)
        let total = config.epochs * trainer.stepsPerEpoch(sampleCount: data.count)
        #expect(total == 20)
        var seen: [Int] = []
        trainer.train(first, on: data, steps: 0..<13) { step, loss in
            seen.append(step)
            #expect(loss.isFinite)
        }
        #expect(seen == Array(0..<13))
        let weights = Dictionary(uniqueKeysWithValues: first.stateDict.map { ($0.name, $0.tensor) })
        let optimizerState = trainer.optimizer.state(of: first.parameters)
        let generators = first.dropoutGenerators
        #expect(optimizerState.stepCount == 13)

        // A fresh process would build a model with another seed: everything must come from the state.
        let second = try Sequential(spec: Self.spec, seed: 99)
        try second.load(weights)
        try second.restoreDropoutGenerators(generators)
        let resumed = Trainer(config: config)
        try resumed.optimizer.restore(optimizerState, of: second.parameters)
        resumed.train(second, on: data, steps: 13..<total)

        #expect(second.flatWeights().map(\.bitPattern) == reference.flatWeights().map(\.bitPattern))
    }

    @Test func restoreRefusesForeignBuffers() throws {
        let model = try Sequential(spec: Self.spec, seed: 1)
        let optimizer = Optimizer(.sgd(momentum: 0.9), learningRate: 0.1)
        let adamState = OptimizerState(stepCount: 3, buffers: ["1.weight.exp_avg": Tensor(zeros: [24, 784])])
        let error = try #require(throws: FormatError.self) { try optimizer.restore(adamState, of: model.parameters) }
        #expect(error.message.contains("1.weight.exp_avg"))
        let badShape = OptimizerState(stepCount: 3, buffers: ["1.weight.momentum_buffer": Tensor(zeros: [2])])
        #expect(throws: FormatError.self) { try optimizer.restore(badShape, of: model.parameters) }
        #expect(optimizer.stepCount == 0)
        #expect(throws: FormatError.self) { try model.restoreDropoutGenerators([]) }
    }

    @Test func generatorStateRoundTrips() {
        var a = SeededGenerator(seed: 3)
        _ = a.next()
        var b = SeededGenerator(state: a.state)
        #expect((0..<5).map { _ in a.next() } == (0..<5).map { _ in b.next() })
    }
}
