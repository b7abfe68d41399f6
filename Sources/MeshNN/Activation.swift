public import MeshTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An element-wise activation function and its derivative.
public enum ActivationKind: String, Sendable, Hashable, CaseIterable {
    /// `max(0, x)`; the gradient at 0 is 0, as in PyTorch.
    case relu
    /// `tanh(x)`.
    case tanh
    /// `1 / (1 + e^-x)`.
    case sigmoid
    /// `x · Φ(x)` with the exact normal CDF (PyTorch's default GELU).
    case gelu
}

/// An element-wise activation layer (`nn.ReLU`, `nn.Tanh`, `nn.Sigmoid`, `nn.GELU`).
public final class Activation: Layer {
    /// Which function.
    public let kind: ActivationKind
    private var input = Tensor(zeros: [0])
    private var output = Tensor(zeros: [0])

    /// Creates an activation layer.
    public init(_ kind: ActivationKind) {
        self.kind = kind
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        var y = input
        y.withUnsafeMutableBufferPointer { all in
          Parallel.forEachChunk(of: all.count, minimumWork: all.count * 4) { chunk in
            let v = UnsafeMutableBufferPointer(rebasing: all[chunk])
            switch kind {
            case .relu: for i in 0..<v.count where !(v[i] > 0) { v[i] = 0 }
            case .tanh: for i in 0..<v.count { v[i] = tanhf(v[i]) }
            case .sigmoid: for i in 0..<v.count { v[i] = 1 / (1 + expf(-v[i])) }
            case .gelu: for i in 0..<v.count { v[i] = 0.5 * v[i] * (1 + erff(v[i] * 0.70710678118654752)) }
            }
          }
        }
        if training {
            if kind == .gelu { self.input = input } else { self.output = y }
        }
        return y
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        var dx = outputGradient
        if kind == .relu {
            output.withUnsafeBufferPointer { y in
                dx.withUnsafeMutableBufferPointer { d in
                    Parallel.forEachChunk(of: d.count, minimumWork: d.count * 4) { chunk in
                        for i in chunk where !(y[i] > 0) { d[i] = 0 }
                    }
                }
            }
            return dx
        }
        dx.withUnsafeMutableBufferPointer { d in
            switch kind {
            case .relu:
                output.withUnsafeBufferPointer { y in for i in 0..<d.count where !(y[i] > 0) { d[i] = 0 } }
            case .tanh:
                output.withUnsafeBufferPointer { y in for i in 0..<d.count { d[i] *= 1 - y[i] * y[i] } }
            case .sigmoid:
                output.withUnsafeBufferPointer { y in for i in 0..<d.count { d[i] *= y[i] * (1 - y[i]) } }
            case .gelu:
                input.withUnsafeBufferPointer { x in
                    for i in 0..<d.count {
                        let v = x[i]
                        let cdf = 0.5 * (1 + erff(v * 0.70710678118654752))
                        let pdf = expf(-0.5 * v * v) * 0.39894228040143268
                        d[i] *= cdf + v * pdf
                    }
                }
            }
        }
        return dx
    }
}

/// Flattens `[batch, …]` to `[batch, features]`, as PyTorch's `nn.Flatten`.
public final class Flatten: Layer {
    private var inputShape: [Int] = []

    /// Creates a flatten layer.
    public init() {}

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        inputShape = input.shape
        let batch = input.shape.first ?? 1
        return input.reshaped([batch, batch == 0 ? 0 : input.count / batch])
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        outputGradient.reshaped(inputShape)
    }
}

/// Inverted dropout, as PyTorch's `nn.Dropout`: in training, zeroes each
/// element with probability `p` and scales the rest by `1/(1-p)`; identity in
/// evaluation. The mask comes from the layer's own seeded generator.
public final class Dropout: Layer {
    /// Drop probability in [0, 1).
    public let probability: Float
    /// Draws the masks; its state is part of a training checkpoint.
    public internal(set) var generator: SeededGenerator
    private var mask: [Float] = []

    /// Creates a dropout layer drawing masks from `generator`.
    public init(probability: Float, generator: SeededGenerator) {
        precondition(probability >= 0 && probability < 1, "dropout probability \(probability) is outside [0, 1)")
        self.probability = probability
        self.generator = generator
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        guard training, probability > 0 else { return input }
        let keep = 1 - probability
        let scale = 1 / keep
        mask = [Float](repeating: 0, count: input.count)
        for i in 0..<mask.count where generator.nextUniform() < keep { mask[i] = scale }
        var y = input
        y.withUnsafeMutableBufferPointer { v in
            mask.withUnsafeBufferPointer { m in for i in 0..<v.count { v[i] *= m[i] } }
        }
        return y
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        guard probability > 0 else { return outputGradient }
        var dx = outputGradient
        dx.withUnsafeMutableBufferPointer { d in
            mask.withUnsafeBufferPointer { m in for i in 0..<d.count { d[i] *= m[i] } }
        }
        return dx
    }
}
