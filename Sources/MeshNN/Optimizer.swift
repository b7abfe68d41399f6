public import MeshTensor

/// The update rule and its hyper-parameters, with PyTorch's semantics.
public enum OptimizerKind: Sendable, Hashable {
    /// `torch.optim.SGD(lr, momentum, dampening=0, weight_decay, nesterov)`.
    case sgd(momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0)
    /// `torch.optim.Adam(lr, betas, eps, weight_decay)` (L2 added to the gradient).
    case adam(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0)
    /// `torch.optim.AdamW(lr, betas, eps, weight_decay)` (decoupled weight decay).
    case adamW(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01)
}

/// Updates parameters from their gradients; holds per-parameter state
/// (momentum buffers, Adam moments) keyed by position in `parameters`.
///
/// ```swift
/// let optimizer = Optimizer(.sgd(momentum: 0.9), learningRate: 0.05)
/// optimizer.step(model.parameters)
/// ```
public final class Optimizer {
    /// The update rule.
    public let kind: OptimizerKind
    /// The step size; schedules change it between epochs.
    public var learningRate: Float
    /// Number of `step` calls so far.
    public internal(set) var stepCount = 0
    var first: [[Float]] = []
    var second: [[Float]] = []

    /// Creates an optimizer.
    public init(_ kind: OptimizerKind, learningRate: Float) {
        self.kind = kind
        self.learningRate = learningRate
    }

    /// Applies one update to every parameter from its accumulated gradient.
    public func step(_ parameters: [Parameter]) {
        stepCount += 1
        if first.count != parameters.count {
            first = parameters.map { _ in [] }
            second = parameters.map { _ in [] }
        }
        for (index, parameter) in parameters.enumerated() {
            switch kind {
            case let .sgd(momentum, nesterov, weightDecay):
                sgd(parameter, index, momentum, nesterov, weightDecay)
            case let .adam(beta1, beta2, epsilon, weightDecay):
                adam(parameter, index, beta1, beta2, epsilon, weightDecay, decoupled: false)
            case let .adamW(beta1, beta2, epsilon, weightDecay):
                adam(parameter, index, beta1, beta2, epsilon, weightDecay, decoupled: true)
            }
        }
    }

    private func sgd(_ parameter: Parameter, _ index: Int, _ momentum: Float, _ nesterov: Bool, _ weightDecay: Float) {
        let lr = learningRate
        let firstStep = first[index].isEmpty
        if momentum != 0 && firstStep { first[index] = [Float](repeating: 0, count: parameter.value.count) }
        parameter.gradient.withUnsafeBufferPointer { g in
            parameter.value.withUnsafeMutableBufferPointer { p in
                if momentum == 0 {
                    for i in 0..<p.count { p[i] -= lr * (g[i] + weightDecay * p[i]) }
                    return
                }
                first[index].withUnsafeMutableBufferPointer { buf in
                    guard !firstStep, !nesterov, p.count > 0 else {
                        for i in 0..<p.count {
                            let d = g[i] + weightDecay * p[i]
                            buf[i] = firstStep ? d : momentum * buf[i] + d
                            p[i] -= lr * (nesterov ? d + momentum * buf[i] : buf[i])
                        }
                        return
                    }
                    // Every later step of plain momentum SGD, eight lanes at a
                    // time: the same operations, in the same order, as the loop above.
                    Self.momentumStep(p.baseAddress!, gradient: g.baseAddress!, buffer: buf.baseAddress!, count: p.count,
                                      learningRate: lr, momentum: momentum, weightDecay: weightDecay)
                }
            }
        }
    }

    /// `d = g + wd·p; buf = m·buf + d; p -= lr·buf` over `count` elements.
    private static func momentumStep(
        _ p: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>, buffer buf: UnsafeMutablePointer<Float>,
        count: Int, learningRate lr: Float, momentum: Float, weightDecay: Float
    ) {
        typealias Lanes = SIMD8<Float>
        var i = 0
        while i + 8 <= count {
            let pv = UnsafeRawPointer(p + i).loadUnaligned(as: Lanes.self)
            let gv = UnsafeRawPointer(g + i).loadUnaligned(as: Lanes.self)
            let bv = UnsafeRawPointer(buf + i).loadUnaligned(as: Lanes.self)
            let d = gv + weightDecay * pv
            let b = momentum * bv + d
            UnsafeMutableRawPointer(buf + i).storeBytes(of: b, as: Lanes.self)
            UnsafeMutableRawPointer(p + i).storeBytes(of: pv - lr * b, as: Lanes.self)
            i += 8
        }
        while i < count {
            let d = g[i] + weightDecay * p[i]
            buf[i] = momentum * buf[i] + d
            p[i] -= lr * buf[i]
            i += 1
        }
    }

    private func adam(
        _ parameter: Parameter, _ index: Int,
        _ beta1: Float, _ beta2: Float, _ epsilon: Float, _ weightDecay: Float, decoupled: Bool
    ) {
        if first[index].isEmpty {
            first[index] = [Float](repeating: 0, count: parameter.value.count)
            second[index] = [Float](repeating: 0, count: parameter.value.count)
        }
        let lr = learningRate
        let t = Float(stepCount)
        let correction1 = 1 - pow(beta1, t)
        let correction2Root = (1 - pow(beta2, t)).squareRoot()
        let stepSize = lr / correction1
        parameter.gradient.withUnsafeBufferPointer { g in
            parameter.value.withUnsafeMutableBufferPointer { p in
                first[index].withUnsafeMutableBufferPointer { m in
                    second[index].withUnsafeMutableBufferPointer { v in
                        for i in 0..<p.count {
                            var d = g[i]
                            if decoupled { p[i] *= 1 - lr * weightDecay } else { d += weightDecay * p[i] }
                            m[i] = beta1 * m[i] + (1 - beta1) * d
                            v[i] = beta2 * v[i] + (1 - beta2) * d * d
                            let denominator = v[i].squareRoot() / correction2Root + epsilon
                            p[i] -= stepSize * m[i] / denominator
                        }
                    }
                }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
