import MeshTensor

/// Loss, accuracy and confusion matrix of a model on a labelled dataset.
public struct Evaluation: Sendable, Hashable {
    /// Mean loss per sample.
    public var loss: Float
    /// Fraction of samples whose highest-scoring class is the label.
    public var accuracy: Double
    /// `confusion[label][predicted]` counts.
    public var confusion: [[Int]]
    /// Samples evaluated.
    public var count: Int

    /// Evaluates `model` on `data` in batches (no dropout, no caching).
    ///
    /// Without a `batchSize`, the whole set is one batch when the model's
    /// activations for it stay within ``automaticActivationBudget`` scalars —
    /// the samples are then read in place, not copied batch by batch — and
    /// batches of 1,000 otherwise.
    public init(model: Sequential, data: Dataset, batchSize: Int? = nil) {
        let batchSize = batchSize ?? Self.automaticBatchSize(model.spec, samples: data.count)
        let classes = data.classCount
        var confusion = Array(repeating: Array(repeating: 0, count: classes), count: classes)
        var lossSum = 0.0
        var correct = 0
        var start = 0
        while start < data.count {
            let end = min(start + max(1, batchSize), data.count)
            let (inputs, labels) = data.batch(range: start..<end)
            let outputs = model.forward(inputs, training: false)
            lossSum += Double(Loss.compute(model.spec.loss, outputs, labels: labels).loss) * Double(end - start)
            for (label, predicted) in zip(labels, outputs.argmaxRows()) {
                if predicted < classes { confusion[Int(label)][predicted] += 1 }
                if predicted == Int(label) { correct += 1 }
            }
            start = end
        }
        self.loss = data.count == 0 ? 0 : Float(lossSum / Double(data.count))
        self.accuracy = data.count == 0 ? 0 : Double(correct) / Double(data.count)
        self.confusion = confusion
        self.count = data.count
    }

    /// Scalars the activations of one automatic batch may take (64 MiB of Float32).
    public static let automaticActivationBudget = 16 << 20

    /// The whole set when every layer's output for all `samples` fits the
    /// budget, else 1,000.
    static func automaticBatchSize(_ spec: ModelSpec, samples: Int) -> Int {
        let widest = ((try? spec.validate()) ?? []).map { $0.reduce(1, *) }.max() ?? 0
        guard widest > 0, samples > 0 else { return 1000 }
        return widest * samples <= automaticActivationBudget ? samples : 1000
    }
}
