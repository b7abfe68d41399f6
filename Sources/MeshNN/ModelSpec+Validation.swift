extension ModelSpec {
    /// The largest number of elements meshfl accepts in one activation or parameter tensor.
    public static let maximumTensorElements = 1 << 34

    /// Checks the spec and returns the output shape of every layer (without the batch dimension).
    ///
    /// `result[i]` is the shape layer `i` produces; `result.last` is the model's output.
    /// - Throws: ``FormatError`` `.invalidSpec` naming the layer index and field,
    ///   e.g. `layers[3].kernel: 7 is larger than the input 5x5; use a kernel ≤ 5 or padding`.
    @discardableResult
    public func validate() throws -> [[Int]] {
        func fail(_ message: String) -> FormatError { FormatError(.invalidSpec, message) }
        guard !input.isEmpty else {
            throw fail("input: is empty; give the per-sample shape without the batch dimension, e.g. [1, 28, 28]")
        }
        for (axis, size) in input.enumerated() where size <= 0 {
            throw fail("input[\(axis)]: \(size) must be positive")
        }
        try checkSize(input, "input")
        guard !layers.isEmpty else { throw fail("layers: is empty; a model needs at least one layer") }

        var shape = input
        var shapes: [[Int]] = []
        shapes.reserveCapacity(layers.count)
        for (index, layer) in layers.enumerated() {
            let at = "layers[\(index)]"
            func positive(_ value: Int, _ field: String) throws {
                if value <= 0 { throw fail("\(at).\(field): \(value) must be positive") }
            }
            func image(_ what: String) throws -> (c: Int, h: Int, w: Int) {
                guard shape.count == 3 else {
                    throw fail("\(at): \(what) needs a [channels, height, width] input but gets \(shape); "
                        + "put \(what) layers before flatten, and give input as [c, h, w]")
                }
                return (shape[0], shape[1], shape[2])
            }
            switch layer {
            case let .dense(units, _):
                try positive(units, "units")
                guard shape.count == 1 else {
                    throw fail("\(at): dense needs a flat input but gets \(shape); add {\"type\":\"flatten\"} before it")
                }
                shape = [units]
            case let .conv2d(filters, kernel, stride, padding, _):
                try positive(filters, "filters")
                try positive(kernel, "kernel")
                try positive(stride, "stride")
                if padding < 0 { throw fail("\(at).padding: \(padding) must be zero or positive") }
                let (_, h, w) = try image("conv2d")
                let (ph, pw) = (h + 2 * padding, w + 2 * padding)
                if kernel > min(ph, pw) {
                    let hint = padding == 0 ? "or padding" : "or more padding"
                    let input = padding == 0 ? "the input \(h)x\(w)" : "the padded input \(ph)x\(pw) (padding \(padding))"
                    throw fail("\(at).kernel: \(kernel) is larger than \(input); use a kernel ≤ \(min(ph, pw)) \(hint)")
                }
                shape = [filters, (ph - kernel) / stride + 1, (pw - kernel) / stride + 1]
            case let .maxpool2d(kernel, stride), let .avgpool2d(kernel, stride):
                try positive(kernel, "kernel")
                if let stride { try positive(stride, "stride") }
                let (c, h, w) = try image(layer.typeName)
                if kernel > min(h, w) {
                    throw fail("\(at).kernel: \(kernel) is larger than the input \(h)x\(w); use a kernel ≤ \(min(h, w))")
                }
                let s = stride ?? kernel
                shape = [c, (h - kernel) / s + 1, (w - kernel) / s + 1]
            case .flatten:
                shape = [shape.reduce(1, *)]
            case .relu, .tanh, .sigmoid, .gelu:
                break
            case let .dropout(p):
                guard p >= 0, p < 1 else { throw fail("\(at).p: \(p) must be in [0, 1)") }
            case let .layernorm(eps):
                guard eps > 0, eps.isFinite else { throw fail("\(at).eps: \(eps) must be a small positive number, e.g. 1e-5") }
            }
            try checkSize(shape, at)
            shapes.append(shape)
        }
        if loss == .crossEntropy, shape.count != 1 || shape[0] < 2 {
            throw fail("loss: cross_entropy needs the last layer to output scores for 2 or more classes, "
                + "but it outputs \(shape); end with a dense layer of one unit per class")
        }
        // Parameter tensors must be representable too.
        for (name, parameterShape) in parameterShapes(outputs: shapes) {
            try checkSize(parameterShape, "layers[\(name.split(separator: ".")[0])]")
        }
        return shapes
    }

    /// The per-sample output shape of the whole model.
    public func outputShape() throws -> [Int] {
        try validate().last ?? input
    }

    /// The learnable tensors in `torch.nn.Sequential` naming and layout, in layer order.
    ///
    /// Dense: `"i.weight"` `[out, in]`, `"i.bias"` `[out]`; conv2d: `"i.weight"`
    /// `[out, in, k, k]`, `"i.bias"` `[out]`; layernorm: `"i.weight"` and `"i.bias"` of
    /// the per-sample shape. A PyTorch `nn.Sequential` built from the same spec has the
    /// same `state_dict()` keys and shapes.
    public func parameterShapes() throws -> [(name: String, shape: [Int])] {
        parameterShapes(outputs: try validate())
    }

    /// The total number of learnable scalars.
    public func parameterCount() throws -> Int {
        try parameterShapes().reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    func parameterShapes(outputs: [[Int]]) -> [(name: String, shape: [Int])] {
        var result: [(name: String, shape: [Int])] = []
        var shape = input
        for (index, layer) in layers.enumerated() {
            switch layer {
            case let .dense(units, bias):
                result.append(("\(index).weight", [units, shape[0]]))
                if bias { result.append(("\(index).bias", [units])) }
            case let .conv2d(filters, kernel, _, _, bias):
                result.append(("\(index).weight", [filters, shape[0], kernel, kernel]))
                if bias { result.append(("\(index).bias", [filters])) }
            case .layernorm:
                result.append(("\(index).weight", shape))
                result.append(("\(index).bias", shape))
            default:
                break
            }
            shape = outputs[index]
        }
        return result
    }

    private func checkSize(_ shape: [Int], _ at: String) throws {
        var total = 1
        for size in shape {
            let (product, overflow) = total.multipliedReportingOverflow(by: size)
            if overflow || product > ModelSpec.maximumTensorElements {
                throw FormatError(.invalidSpec, "\(at): a tensor of shape \(shape) is too large; use smaller sizes")
            }
            total = product
        }
    }
}
