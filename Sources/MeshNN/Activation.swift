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
        // Out of place into fresh memory: one read and one write per element
        // (mutating a copy of `input` would first copy it whole).
        let kind = kind
        let y = Tensor(shape: input.shape, unsafeUninitializedScalars: { out in
            input.withUnsafeBufferPointer { x in
                Parallel.forEachChunk(of: out.count, minimumWork: out.count * 4) { chunk in
                    guard !chunk.isEmpty else { return }
                    switch kind {
                    case .relu: Self.relu(x.baseAddress! + chunk.lowerBound, mask: x.baseAddress! + chunk.lowerBound,
                                          into: out.baseAddress! + chunk.lowerBound, count: chunk.count)
                    case .tanh: for i in chunk { out[i] = tanhf(x[i]) }
                    case .sigmoid: for i in chunk { out[i] = 1 / (1 + expf(-x[i])) }
                    case .gelu: for i in chunk { out[i] = 0.5 * x[i] * (1 + erff(x[i] * 0.70710678118654752)) }
                    }
                }
            }
        })
        if training {
            if kind == .gelu { self.input = input } else { self.output = y }
        }
        return y
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        let kind = kind
        return Tensor(shape: outputGradient.shape, unsafeUninitializedScalars: { dx in
            outputGradient.withUnsafeBufferPointer { dy in
                (kind == .gelu ? input : output).withUnsafeBufferPointer { saved in
                    Parallel.forEachChunk(of: dx.count, minimumWork: dx.count * 4) { chunk in
                        guard !chunk.isEmpty else { return }
                        switch kind {
                        case .relu:
                            Self.relu(dy.baseAddress! + chunk.lowerBound, mask: saved.baseAddress! + chunk.lowerBound,
                                      into: dx.baseAddress! + chunk.lowerBound, count: chunk.count)
                        case .tanh:
                            for i in chunk { dx[i] = dy[i] * (1 - saved[i] * saved[i]) }
                        case .sigmoid:
                            for i in chunk { dx[i] = dy[i] * (saved[i] * (1 - saved[i])) }
                        case .gelu:
                            for i in chunk {
                                let v = saved[i]
                                let cdf = 0.5 * (1 + erff(v * 0.70710678118654752))
                                let pdf = expf(-0.5 * v * v) * 0.39894228040143268
                                dx[i] = dy[i] * (cdf + v * pdf)
                            }
                        }
                    }
                }
            }
        })
    }
}

extension Activation {
    /// `out[i] = mask[i] > 0 ? values[i] : 0`, eight lanes at a time: ReLU's
    /// forward (`values` = `mask` = x) and backward (dY masked by the output).
    static func relu(
        _ values: UnsafePointer<Float>, mask: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int
    ) {
        let zero = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(values + i).loadUnaligned(as: SIMD8<Float>.self)
            let m = UnsafeRawPointer(mask + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(out + i).storeBytes(of: v.replacing(with: 0, where: .!(m .> zero)), as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            out[i] = mask[i] > 0 ? values[i] : 0
            i += 1
        }
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
