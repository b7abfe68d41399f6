import MeshTensor
import Testing
@testable import MeshNN

/// Same seed, data, spec and thread count → bitwise-identical weights.
@Suite(.serialized)
struct DeterminismTests {
    static let spec = ModelSpec(
        input: [1, 28, 28],
        layers: [.conv2d(filters: 4, kernel: 3, padding: 1), .relu, .maxpool2d(kernel: 2), .flatten,
                 .dropout(p: 0.2), .dense(units: 32), .gelu, .dense(units: 10)])

    func train(seed: UInt64, data: Dataset, threads: Int) throws -> [Float] {
        let previous = BLAS.threads
        BLAS.setThreads(threads)
        defer { BLAS.setThreads(previous) }
        let model = try Sequential(spec: Self.spec, seed: seed)
        let trainer = Trainer(config: TrainingConfig(epochs: 2, batchSize: 32, learningRate: 0.01,
                                                     optimizer: .adam(), seed: seed))
        trainer.train(model, on: data)
        return model.flatWeights()
    }

    @Test("two runs with the same seed give bitwise-identical weights", arguments: [1, 2])
    func sameSeedSameBits(threads: Int) throws {
        let data = try Dataset.fashionMNIST(split: .test).subset(Array(0..<512))
        let a = try train(seed: 9, data: data, threads: threads)
        let b = try train(seed: 9, data: data, threads: threads)
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
        let c = try train(seed: 10, data: data, threads: threads)
        #expect(a != c)
    }

    @Test func initialisationIsSeeded() throws {
        let a = try Sequential(spec: Self.spec, seed: 1).flatWeights()
        let b = try Sequential(spec: Self.spec, seed: 1).flatWeights()
        let c = try Sequential(spec: Self.spec, seed: 2).flatWeights()
        #expect(a == b && a != c)
    }

    @Test("a model built with its weights trains bit for bit like one initialised and then loaded")
    func buildingWithWeightsMatchesLoading() throws {
        let data = try Dataset.fashionMNIST(split: .test).subset(Array(0..<256))
        let weights = Dictionary(uniqueKeysWithValues: try Sequential(spec: Self.spec, seed: 5).stateDict.map { ($0.name, $0.tensor) })
        let loaded = try Sequential(spec: Self.spec, seed: 6)
        try loaded.load(weights)
        let built = try Sequential(spec: Self.spec, seed: 6, weights: weights)
        #expect(built.flatWeights() == loaded.flatWeights())
        // The seed still drives dropout: the same training steps give the same bits.
        for model in [loaded, built] {
            Trainer(config: TrainingConfig(epochs: 1, batchSize: 32, learningRate: 0.05, seed: 6)).train(model, on: data)
        }
        #expect(built.flatWeights().map(\.bitPattern) == loaded.flatWeights().map(\.bitPattern))

        var wrong = weights
        wrong["5.weight"] = Tensor(zeros: [3, 3])
        #expect(throws: FormatError.self) { try Sequential(spec: Self.spec, seed: 6, weights: wrong, source: "round 2 weights") }
        do { _ = try Sequential(spec: Self.spec, seed: 6, weights: wrong, source: "round 2 weights") } catch {
            #expect("\(error)".contains("round 2 weights") && "\(error)".contains("5.weight"))
        }
    }

    @Test func trainingReducesLoss() throws {
        let data = try Dataset.fashionMNIST(split: .test).subset(Array(0..<2000))
        let model = try Sequential(spec: Self.spec, seed: 3)
        let before = Evaluation(model: model, data: data)
        let losses = Trainer(config: TrainingConfig(epochs: 3, batchSize: 32, learningRate: 0.05, seed: 3))
            .train(model, on: data)
        let after = Evaluation(model: model, data: data)
        #expect(losses.last! < losses.first!)
        #expect(after.loss < before.loss)
        #expect(after.accuracy > 0.6)
        #expect(after.confusion.flatMap { $0 }.reduce(0, +) == 2000)
    }

    @Test func evaluationGivesTheSameResultForAnyBatching() throws {
        let data = try Dataset.fashionMNIST(split: .test).subset(Array(0..<1500))
        let model = try Sequential(spec: Self.spec, seed: 4)
        let whole = Evaluation(model: model, data: data)
        #expect(Evaluation.automaticBatchSize(model.spec, samples: data.count) == data.count)
        for batchSize in [1, 7, 1000] {
            let batched = Evaluation(model: model, data: data, batchSize: batchSize)
            #expect(batched.confusion == whole.confusion && batched.accuracy == whole.accuracy && batched.count == 1500)
            #expect(abs(batched.loss - whole.loss) <= 1e-5 * max(1, abs(whole.loss)))
        }
        // A model whose activations for the whole set exceed the budget is evaluated in batches of 1,000.
        let wide = ModelSpec(input: [784], layers: [.dense(units: 4096, bias: true), .dense(units: 10, bias: true)])
        #expect(Evaluation.automaticBatchSize(wide, samples: 10_000) == 1000)
    }
}

