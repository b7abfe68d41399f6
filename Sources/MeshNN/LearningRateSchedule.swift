#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How the learning rate changes from epoch to epoch, as PyTorch's
/// schedulers stepped once per epoch.
public enum LearningRateSchedule: Sendable, Hashable {
    /// The base rate throughout.
    case constant
    /// `StepLR`: multiply by `gamma` every `stepSize` epochs.
    case step(stepSize: Int, gamma: Float)
    /// `CosineAnnealingLR(T_max, eta_min)`: half a cosine from the base rate down to `minimum` over `period` epochs.
    case cosine(period: Int, minimum: Float = 0)

    /// The rate for `epoch` (0-based) given the base rate.
    public func rate(base: Float, epoch: Int) -> Float {
        switch self {
        case .constant:
            return base
        case let .step(stepSize, gamma):
            return base * pow(gamma, Float(epoch / max(1, stepSize)))
        case let .cosine(period, minimum):
            let t = Float(min(epoch, max(1, period))) / Float(max(1, period))
            return minimum + (base - minimum) * (1 + cos(Float.pi * t)) / 2
        }
    }
}
