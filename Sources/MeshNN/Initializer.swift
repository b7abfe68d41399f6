public import MeshTensor

/// Seeded parameter initialisers matching PyTorch's defaults in distribution
/// (not in bits: PyTorch's generator is a different one).
public enum Initializer {
    /// Uniform in `[-bound, bound)`.
    public static func uniform(shape: [Int], bound: Float, using generator: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape) { _ in (generator.nextUniform() * 2 - 1) * bound }
    }

    /// Normal with the given standard deviation.
    public static func normal(shape: [Int], standardDeviation: Float, using generator: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape) { _ in generator.nextNormal() * standardDeviation }
    }
}
