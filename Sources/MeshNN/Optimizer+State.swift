public import MeshTensor

/// What an ``Optimizer`` carries from step to step: its step count and the
/// per-parameter buffers, named as PyTorch's `optimizer.state_dict()` names
/// them (`momentum_buffer` for SGD, `exp_avg` and `exp_avg_sq` for Adam/AdamW),
/// prefixed by the parameter name: `"0.weight.exp_avg"`.
///
/// Together with the weights, the step and the dropout generators it makes a
/// training run resumable bit for bit.
public struct OptimizerState: Sendable, Hashable {
    /// Number of `step` calls so far (Adam's bias correction uses it).
    public var stepCount: Int
    /// The buffers by `"<parameter>.<buffer>"`; a buffer not yet created is absent.
    public var buffers: [String: Tensor]

    /// Creates a state.
    public init(stepCount: Int = 0, buffers: [String: Tensor] = [:]) {
        self.stepCount = stepCount
        self.buffers = buffers
    }
}

extension Optimizer {
    private var bufferNames: (first: String, second: String?) {
        switch kind {
        case .sgd: ("momentum_buffer", nil)
        case .adam, .adamW: ("exp_avg", "exp_avg_sq")
        }
    }

    /// The step count and the buffers of `parameters` (the list passed to ``step(_:)``).
    public func state(of parameters: [Parameter]) -> OptimizerState {
        var buffers: [String: Tensor] = [:]
        let names = bufferNames
        for (index, parameter) in parameters.enumerated() where index < first.count {
            if !first[index].isEmpty {
                buffers["\(parameter.name).\(names.first)"] = Tensor(shape: parameter.value.shape, scalars: first[index])
            }
            if let second = names.second, !self.second[index].isEmpty {
                buffers["\(parameter.name).\(second)"] = Tensor(shape: parameter.value.shape, scalars: self.second[index])
            }
        }
        return OptimizerState(stepCount: stepCount, buffers: buffers)
    }

    /// Replaces the step count and buffers with `state`, saved by ``state(of:)``
    /// for the same parameters and the same kind of optimizer.
    ///
    /// - Throws: ``FormatError`` `.shapeMismatch` naming the buffer when one is
    ///   not a buffer of this optimizer and these parameters, or has the wrong
    ///   shape; nothing is changed then.
    public func restore(_ state: OptimizerState, of parameters: [Parameter]) throws {
        let names = bufferNames
        var first = [[Float]](repeating: [], count: parameters.count)
        var second = [[Float]](repeating: [], count: parameters.count)
        var used = 0
        for (index, parameter) in parameters.enumerated() {
            for (suffix, isFirst) in [(names.first, true), (names.second, false)] {
                guard let suffix, let tensor = state.buffers["\(parameter.name).\(suffix)"] else { continue }
                guard tensor.shape == parameter.value.shape else {
                    throw FormatError(.shapeMismatch, "optimizer state: \(parameter.name).\(suffix) has shape "
                        + "\(tensor.shape), the parameter has \(parameter.value.shape)")
                }
                if isFirst { first[index] = tensor.scalars } else { second[index] = tensor.scalars }
                used += 1
            }
        }
        guard used == state.buffers.count else {
            let known = Set(parameters.flatMap { p in [names.first, names.second].compactMap { $0.map { "\(p.name).\($0)" } } })
            let extra = state.buffers.keys.sorted().first { !known.contains($0) } ?? "?"
            throw FormatError(.shapeMismatch, "optimizer state: \(extra) is not a buffer of this \(kind) optimizer "
                + "for these parameters; was it saved by another optimizer or model?")
        }
        guard state.stepCount >= 0 else {
            throw FormatError(.invalidArgument, "optimizer state: step count \(state.stepCount) is negative")
        }
        self.first = first
        self.second = second
        self.stepCount = state.stepCount
    }
}
