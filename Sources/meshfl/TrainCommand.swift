import ArgumentParser
import Foundation
import MeshNN
import MeshTensor

/// `meshfl train`: trains a model spec on a dataset and writes safetensors weights.
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model spec on a dataset; write the weights as safetensors.",
        discussion: """
            Training is deterministic: the same spec, data, --seed and --threads give
            bitwise-identical weights. The weights load into the PyTorch nn.Sequential
            of the same layers with load_state_dict.

            Example:
              meshfl train --model examples/cnn.json --epochs 5 --lr 0.05 --out cnn.safetensors
            """
    )

    @OptionGroup var common: ModelDataOptions

    @Option(help: "Passes over the training data.")
    var epochs: Int = 5

    @Option(name: .customLong("batch"), help: "Mini-batch size.")
    var batchSize: Int = 64

    @Option(help: "Learning rate (default: 0.05 for sgd, 0.001 for adam/adamw).")
    var lr: Float?

    @Option(help: "sgd, adam or adamw.")
    var optimizer: OptimizerName = .sgd

    @Option(help: "SGD momentum.")
    var momentum: Float = 0.9

    @Flag(help: "Nesterov momentum (SGD).")
    var nesterov = false

    @Option(name: .customLong("weight-decay"), help: "L2 weight decay (decoupled for adamw).")
    var weightDecay: Float = 0

    @Option(help: "Learning-rate schedule per epoch: constant, step (halve every 2 epochs) or cosine.")
    var schedule: ScheduleName = .constant

    @Option(help: "Seed for initialisation and shuffling.")
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("Where to write the trained weights.", valueName: "W.safetensors"))
    var out: String

    @Flag(help: "Skip the per-epoch evaluation on the test split.")
    var noEval = false

    enum OptimizerName: String, ExpressibleByArgument, CaseIterable { case sgd, adam, adamw }
    enum ScheduleName: String, ExpressibleByArgument, CaseIterable { case constant, step, cosine }

    func validate() throws {
        try common.validateCommon()
        guard epochs >= 1 && epochs <= 10_000 else { throw ValidationError("--epochs must be between 1 and 10000, got \(epochs)") }
        guard batchSize >= 1 else { throw ValidationError("--batch must be at least 1, got \(batchSize)") }
        if let lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number, got \(lr)") }
        guard weightDecay >= 0 else { throw ValidationError("--weight-decay must be ≥ 0, got \(weightDecay)") }
        let directory = URL(fileURLWithPath: out).deletingLastPathComponent().path
        guard FileManager.default.isWritableFile(atPath: directory.isEmpty ? "." : directory) else {
            throw ValidationError("--out \(out): directory \(directory) does not exist or is not writable")
        }
    }

    var trainingConfig: TrainingConfig {
        let kind: OptimizerKind
        switch optimizer {
        case .sgd: kind = .sgd(momentum: momentum, nesterov: nesterov, weightDecay: weightDecay)
        case .adam: kind = .adam(weightDecay: weightDecay)
        case .adamw: kind = .adamW(weightDecay: weightDecay == 0 ? 0.01 : weightDecay)
        }
        let rate: LearningRateSchedule
        switch schedule {
        case .constant: rate = .constant
        case .step: rate = .step(stepSize: 2, gamma: 0.5)
        case .cosine: rate = .cosine(period: epochs)
        }
        return TrainingConfig(epochs: epochs, batchSize: batchSize,
                              learningRate: lr ?? (optimizer == .sgd ? 0.05 : 0.001),
                              optimizer: kind, schedule: rate, seed: seed)
    }

    func run() async throws {
        BLAS.setThreads(common.threads)
        let spec = try common.loadSpec()
        let train = try common.loadData(split: .train, spec: spec)
        let test: Dataset? = noEval ? nil : (try? common.loadData(split: .test, spec: spec))
        let model = try Sequential(spec: spec, seed: seed)
        let config = trainingConfig
        print("training \(common.model) (\(try spec.parameterCount()) parameters) on \(train.count) samples, "
              + "\(config.epochs) epochs, batch \(config.batchSize), \(optimizer.rawValue) lr \(config.learningRate)")
        let started = CommandLineOutput.now()
        let trainer = Trainer(config: config)
        for epoch in 0..<config.epochs {
            var bar = ProgressBar(label: "epoch \(epoch + 1)/\(config.epochs)", total: train.count)
            let loss = trainer.trainEpoch(model, on: train, epoch: epoch) { progress in
                bar.update(done: progress.samplesSeen, detail: String(format: "loss %.4f", progress.meanLoss))
                return true
            }
            guard loss.isFinite else {
                throw UsageError("training diverged in epoch \(epoch + 1) (loss \(loss)); lower --lr")
            }
            var line = String(format: "epoch %d/%d  loss %.4f", epoch + 1, config.epochs, loss)
            if let test {
                let evaluation = Evaluation(model: model, data: test)
                line += String(format: "  test loss %.4f  test accuracy %.2f%%", evaluation.loss, evaluation.accuracy * 100)
            }
            print(line)
        }
        let weights = SafeTensors(Dictionary(uniqueKeysWithValues: model.stateDict.map { ($0.name, $0.tensor) }),
                                  metadata: ["format": "pt", "meshfl.model": spec.layers.map(\.typeName).joined(separator: ",")])
        try weights.write(to: URL(fileURLWithPath: out))
        print(String(format: "wrote %@ in %.1f s", out, CommandLineOutput.now() - started))
    }
}
