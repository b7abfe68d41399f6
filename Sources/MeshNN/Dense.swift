public import MeshTensor

/// A fully connected layer, `y = x · Wᵀ + b`, as PyTorch's `nn.Linear`.
///
/// Weights are `[out, in]`; the input is `[batch, in]`.
public final class Dense: Layer {
    /// `[out, in]`.
    public let weight: Parameter
    /// `[out]`, or nil without bias.
    public let bias: Parameter?
    /// Whether `backward` computes the input gradient; false for a first
    /// layer, whose input gradient nobody reads (saves a third of the work).
    public var computesInputGradient = true

    private var input = Tensor(zeros: [0, 0])
    private var inputShape: [Int] = []

    /// Creates a layer initialised as PyTorch does: weights and bias uniform in
    /// ±1/√in (Kaiming-uniform with a = √5).
    public convenience init(inputs: Int, outputs: Int, bias: Bool = true, name: String, generator: inout SeededGenerator) {
        self.init(inputs: inputs, outputs: outputs, bias: bias, name: name) { shape, bound in
            Initializer.uniform(shape: shape, bound: bound, using: &generator)
        }
    }

    /// Creates a layer whose parameters are `initial(shape, bound)` (weight first, then bias).
    init(inputs: Int, outputs: Int, bias: Bool, name: String, initial: (_ shape: [Int], _ bound: Float) -> Tensor) {
        let bound = 1 / Float(inputs).squareRoot()
        weight = Parameter(name: "\(name).weight", value: initial([outputs, inputs], bound))
        self.bias = bias ? Parameter(name: "\(name).bias", value: initial([outputs], bound)) : nil
    }

    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let x = input.rank == 2 ? input : input.reshaped([input.shape[0], input.count / max(1, input.shape[0])])
        var y = Tensor.matmul(x, weight.value, transposeB: true)
        if let bias { y.addRowVector(bias.value) }
        if training {
            self.input = x
            self.inputShape = input.shape
        }
        return y
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        // dW += dYᵀ · X ; db += Σ_rows dY ; dX = dY · W
        Tensor.gemm(outputGradient, input, into: &weight.gradient, transposeA: true, alpha: 1, beta: 1)
        if let bias { bias.gradient.add(outputGradient.columnSums()) }
        guard computesInputGradient else { return Tensor(zeros: [0]) }
        var inputGradient = Tensor.matmul(outputGradient, weight.value)
        inputGradient.reshape(inputShape)
        return inputGradient
    }
}
