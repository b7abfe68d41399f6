public import MeshTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A loss over a batch of model outputs `[batch, classes]` and integer labels,
/// averaged over the batch as PyTorch's default `reduction="mean"`.
public enum Loss {
    /// Softmax cross-entropy (`nn.CrossEntropyLoss`): the mean of `-log softmax(z)[y]`.
    /// The gradient is `(softmax(z) - onehot(y)) / batch`.
    public static func softmaxCrossEntropy(_ logits: Tensor, labels: [Int32]) -> (loss: Float, gradient: Tensor) {
        precondition(logits.rank == 2 && logits.shape[0] == labels.count,
                     "cross-entropy: logits \(logits.shape) for \(labels.count) labels")
        let batch = logits.shape[0], classes = logits.shape[1]
        var gradient = logits
        var total = 0.0
        let scale = 1 / Float(batch)
        gradient.withUnsafeMutableBufferPointer { g in
            for n in 0..<batch {
                let row = g.baseAddress! + n * classes
                var maxValue = -Float.infinity
                for c in 0..<classes where row[c] > maxValue { maxValue = row[c] }
                var sum: Float = 0
                for c in 0..<classes {
                    row[c] = expf(row[c] - maxValue)
                    sum += row[c]
                }
                let label = Int(labels[n])
                precondition(label >= 0 && label < classes, "label \(label) outside 0..<\(classes)")
                let inverse = 1 / sum
                for c in 0..<classes { row[c] *= inverse }
                total -= Double(logf(max(row[label], .leastNormalMagnitude)))
                row[label] -= 1
                for c in 0..<classes { row[c] *= scale }
            }
        }
        return (Float(total / Double(batch)), gradient)
    }

    /// Mean squared error against one-hot targets (`nn.MSELoss` on
    /// `F.one_hot(y)`): the mean over all elements of `(z - onehot(y))²`.
    public static func meanSquaredError(_ outputs: Tensor, labels: [Int32]) -> (loss: Float, gradient: Tensor) {
        precondition(outputs.rank == 2 && outputs.shape[0] == labels.count,
                     "mse: outputs \(outputs.shape) for \(labels.count) labels")
        let classes = outputs.shape[1]
        var target = Tensor(zeros: outputs.shape)
        for (n, label) in labels.enumerated() { target.scalars[n * classes + Int(label)] = 1 }
        return meanSquaredError(outputs, targets: target)
    }

    /// Mean squared error against real-valued targets of the same shape.
    public static func meanSquaredError(_ outputs: Tensor, targets: Tensor) -> (loss: Float, gradient: Tensor) {
        precondition(outputs.count == targets.count, "mse: outputs \(outputs.shape) vs targets \(targets.shape)")
        var gradient = outputs
        gradient.subtract(targets)
        let total = gradient.sumOfSquares()
        gradient.scale(by: 2 / Float(max(1, outputs.count)))
        return (Float(total / Double(max(1, outputs.count))), gradient)
    }

    /// The loss a spec names, for outputs and labels.
    public static func compute(_ kind: LossSpec, _ outputs: Tensor, labels: [Int32]) -> (loss: Float, gradient: Tensor) {
        switch kind {
        case .crossEntropy: softmaxCrossEntropy(outputs, labels: labels)
        case .mse: meanSquaredError(outputs, labels: labels)
        }
    }
}
