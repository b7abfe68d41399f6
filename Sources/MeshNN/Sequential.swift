public import MeshTensor

/// A network of layers applied in order, built from a ``ModelSpec``: the
/// runtime counterpart of PyTorch's `nn.Sequential`, with the same parameter
/// names (`"0.weight"`, `"3.bias"`, …).
///
/// ```swift
/// let model = try Sequential(spec: spec, seed: 7)
/// let logits = model.forward(batch, training: false)
/// try model.load(SafeTensors(contentsOf: url).tensors)
/// ```
public final class Sequential {
    /// The spec the network was built from.
    public let spec: ModelSpec
    /// The layers, one per entry of `spec.layers`.
    public let layers: [any Layer]
    /// Every trainable parameter, in `state_dict` order.
    public let parameters: [Parameter]
    private let firstTrainable: Int

    /// Builds and initialises the network for `spec`, PyTorch's default
    /// initialisation drawn from a generator seeded with `seed`.
    ///
    /// - Throws: ``FormatError`` when the spec does not validate.
    public convenience init(spec: ModelSpec, seed: UInt64) throws {
        try self.init(spec: spec, seed: seed, initialise: true)
    }

    /// Builds the network for `spec` with `weights` loaded: what
    /// ``init(spec:seed:)`` then ``load(_:source:)`` give, without drawing
    /// initial weights that are thrown away at once. `seed` still seeds the
    /// dropout layers.
    ///
    /// - Throws: ``FormatError`` when the spec does not validate or the
    ///   weights do not fit it (naming `source` and the tensor).
    public convenience init(spec: ModelSpec, seed: UInt64, weights: [String: Tensor], source: String = "weights") throws {
        try self.init(spec: spec, seed: seed, initialise: false)
        try load(weights, source: source)
    }

    private init(spec: ModelSpec, seed: UInt64, initialise: Bool) throws {
        let shapes = try spec.validate()
        var generator = SeededGenerator(seed: seed, stream: 0x1417)
        func initial(_ shape: [Int], _ bound: Float) -> Tensor {
            initialise ? Initializer.uniform(shape: shape, bound: bound, using: &generator) : Tensor(zeros: shape)
        }
        var layers: [any Layer] = []
        for (index, layer) in spec.layers.enumerated() {
            let inputShape = index == 0 ? spec.input : shapes[index - 1]
            let name = String(index)
            switch layer {
            case let .dense(units, bias):
                layers.append(Dense(inputs: inputShape.reduce(1, *), outputs: units, bias: bias, name: name, initial: initial))
            case let .conv2d(filters, kernel, stride, padding, bias):
                layers.append(Conv2D(inChannels: inputShape[0], outChannels: filters, kernel: kernel,
                                     stride: stride, padding: padding, bias: bias, name: name, initial: initial))
            case let .maxpool2d(kernel, stride):
                layers.append(MaxPool2D(kernel: kernel, stride: stride))
            case let .avgpool2d(kernel, stride):
                layers.append(AvgPool2D(kernel: kernel, stride: stride))
            case .flatten:
                layers.append(Flatten())
            case .relu:
                layers.append(Activation(.relu))
            case .tanh:
                layers.append(Activation(.tanh))
            case .sigmoid:
                layers.append(Activation(.sigmoid))
            case .gelu:
                layers.append(Activation(.gelu))
            case let .dropout(p):
                layers.append(Dropout(probability: p, generator: SeededGenerator(seed: seed, stream: 0xD20, UInt64(index))))
            case let .layernorm(eps):
                layers.append(LayerNorm(shape: inputShape, epsilon: eps, name: name))
            }
        }
        // Nothing before the first layer with parameters needs a gradient:
        // backward stops there, and that layer skips its input gradient.
        let firstTrainable = layers.firstIndex { !$0.parameters.isEmpty } ?? layers.count
        if firstTrainable < layers.count {
            (layers[firstTrainable] as? Conv2D)?.computesInputGradient = false
            (layers[firstTrainable] as? Dense)?.computesInputGradient = false
        }
        self.firstTrainable = firstTrainable
        self.spec = spec
        self.layers = layers
        self.parameters = layers.flatMap(\.parameters)
    }

    /// The outputs for a batch `[n] + spec.input`.
    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        var x = input
        for layer in layers { x = layer.forward(x, training: training) }
        return x
    }

    /// Back-propagates the gradient of the loss with respect to the outputs of
    /// the last training forward pass, accumulating parameter gradients.
    public func backward(_ outputGradient: Tensor) {
        var g = outputGradient
        for index in stride(from: layers.count - 1, through: firstTrainable, by: -1) {
            g = layers[index].backward(g)
        }
    }

    /// Clears every parameter's gradient.
    public func zeroGradients() {
        for parameter in parameters { parameter.zeroGradient() }
    }

    /// The weights as named tensors in `state_dict` order.
    public var stateDict: [(name: String, tensor: Tensor)] {
        parameters.map { ($0.name, $0.value) }
    }

    /// The weights flattened into one vector in `state_dict` order.
    public func flatWeights() -> [Float] {
        parameters.flatMap(\.value.scalars)
    }

    /// Replaces every parameter's value with the tensor of the same name.
    ///
    /// - Throws: ``FormatError`` naming the tensor when one is missing, has
    ///   the wrong shape, or an extra tensor is given; nothing is changed then.
    public func load(_ tensors: [String: Tensor], source: String = "weights") throws {
        for parameter in parameters {
            guard let tensor = tensors[parameter.name] else {
                throw FormatError(.shapeMismatch, "\(source): no tensor named \(parameter.name); the spec needs \(parameter.name) \(parameter.value.shape)")
            }
            guard tensor.shape == parameter.value.shape else {
                throw FormatError(.shapeMismatch, "\(source): \(parameter.name) has shape \(tensor.shape), the spec needs \(parameter.value.shape)")
            }
        }
        let known = Set(parameters.map(\.name))
        if let extra = tensors.keys.sorted().first(where: { !known.contains($0) }) {
            throw FormatError(.shapeMismatch, "\(source): tensor \(extra) is not a parameter of this spec")
        }
        for parameter in parameters { parameter.value = tensors[parameter.name]! }
    }
}
