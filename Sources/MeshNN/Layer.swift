public import MeshTensor

/// A trainable tensor and the gradient accumulated for it.
///
/// Layers own their parameters; optimizers update `value` from `gradient`.
/// The name follows PyTorch's `nn.Sequential` naming (`"0.weight"`), so
/// weights move to and from PyTorch unchanged.
public final class Parameter {
    /// The PyTorch-style name, e.g. `"3.bias"`.
    public let name: String
    /// The current value.
    public var value: Tensor
    /// The gradient of the loss with respect to `value`, summed since the last `zeroGradient()`.
    public var gradient: Tensor

    /// Creates a parameter with a zero gradient.
    public init(name: String, value: Tensor) {
        self.name = name
        self.value = value
        self.gradient = Tensor(zeros: value.shape)
    }

    /// Clears the accumulated gradient.
    public func zeroGradient() {
        gradient.fill(0)
    }
}

/// A differentiable layer working on a batch (the first dimension).
///
/// `forward` caches what `backward` needs when `training` is true; `backward`
/// returns the gradient with respect to the last input and adds the parameter
/// gradients to each `Parameter.gradient`.
public protocol Layer: AnyObject {
    /// The output for a batch of inputs.
    func forward(_ input: Tensor, training: Bool) -> Tensor
    /// The gradient with respect to the input of the last `forward(_:training: true)`.
    func backward(_ outputGradient: Tensor) -> Tensor
    /// The trainable parameters, in PyTorch `state_dict` order (weight, then bias).
    var parameters: [Parameter] { get }
}

extension Layer {
    /// Layers without parameters have none.
    public var parameters: [Parameter] { [] }
}
