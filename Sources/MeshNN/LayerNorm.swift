public import MeshTensor

/// Layer normalisation over each sample's whole shape with an element-wise
/// affine transform, as PyTorch's `nn.LayerNorm(sample_shape)`.
public final class LayerNorm: Layer {
    /// `gamma`, shaped like a sample, initialised to 1.
    public let weight: Parameter
    /// `beta`, shaped like a sample, initialised to 0.
    public let bias: Parameter
    /// Added to the variance for stability.
    public let epsilon: Float
    private var normalized: [Float] = []
    private var inverseStd: [Float] = []

    /// Creates a layer normalising samples of `shape`.
    public init(shape: [Int], epsilon: Float = 1e-5, name: String) {
        weight = Parameter(name: "\(name).weight", value: Tensor(repeating: 1, shape: shape))
        bias = Parameter(name: "\(name).bias", value: Tensor(zeros: shape))
        self.epsilon = epsilon
    }

    public var parameters: [Parameter] { [weight, bias] }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let features = weight.value.count
        let batch = input.count / features
        precondition(batch * features == input.count, "LayerNorm over \(weight.value.shape) got \(input.shape)")
        var y = input
        normalized = [Float](repeating: 0, count: input.count)
        inverseStd = [Float](repeating: 0, count: batch)
        y.withUnsafeMutableBufferPointer { v in
            weight.value.withUnsafeBufferPointer { gamma in
                bias.value.withUnsafeBufferPointer { beta in
                    for n in 0..<batch {
                        let row = v.baseAddress! + n * features
                        var mean = 0.0
                        for i in 0..<features { mean += Double(row[i]) }
                        mean /= Double(features)
                        var variance = 0.0
                        for i in 0..<features { let d = Double(row[i]) - mean; variance += d * d }
                        variance /= Double(features)
                        let inv = Float(1 / (variance + Double(epsilon)).squareRoot())
                        inverseStd[n] = inv
                        let m = Float(mean)
                        for i in 0..<features {
                            let xhat = (row[i] - m) * inv
                            normalized[n * features + i] = xhat
                            row[i] = xhat * gamma[i] + beta[i]
                        }
                    }
                }
            }
        }
        return y
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        let features = weight.value.count
        let batch = outputGradient.count / features
        var dx = outputGradient
        let gamma = weight.value.scalars
        var dGamma = [Float](repeating: 0, count: features)
        var dBeta = [Float](repeating: 0, count: features)
        var dxhat = [Float](repeating: 0, count: features)
        dx.withUnsafeMutableBufferPointer { d in
            for n in 0..<batch {
                let row = d.baseAddress! + n * features
                var sumD = 0.0, sumDX = 0.0
                for i in 0..<features {
                    let xhat = normalized[n * features + i]
                    dGamma[i] += row[i] * xhat
                    dBeta[i] += row[i]
                    dxhat[i] = row[i] * gamma[i]
                    sumD += Double(dxhat[i])
                    sumDX += Double(dxhat[i] * xhat)
                }
                let scale = inverseStd[n] / Float(features)
                let meanD = Float(sumD), meanDX = Float(sumDX)
                for i in 0..<features {
                    let xhat = normalized[n * features + i]
                    row[i] = scale * (Float(features) * dxhat[i] - meanD - xhat * meanDX)
                }
            }
        }
        weight.gradient.add(Tensor(shape: weight.value.shape, scalars: dGamma))
        bias.gradient.add(Tensor(shape: bias.value.shape, scalars: dBeta))
        return dx
    }
}
