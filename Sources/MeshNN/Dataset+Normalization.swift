import MeshTensor

/// A feature standardization `x ↦ (x - mean) / std`, as torchvision's `Normalize` with one channel.
public struct Normalization: Sendable, Hashable, Codable {
    /// Subtracted from every feature.
    public var mean: Float
    /// Every centred feature is divided by this.
    public var std: Float

    /// Creates a standardization.
    ///
    /// - Precondition: `std` is positive and finite.
    public init(mean: Float, std: Float) {
        precondition(std > 0 && std.isFinite, "std must be positive")
        self.mean = mean
        self.std = std
    }

    /// The usual Fashion-MNIST statistics of [0, 1]-scaled training pixels (0.2860, 0.3530).
    public static let fashionMNIST = Normalization(mean: 0.2860, std: 0.3530)
}

extension Dataset {
    /// The mean and (population) standard deviation of all features, accumulated in `Double`.
    ///
    /// A constant dataset gets `std` 1 so that standardizing it is well defined.
    public func featureStatistics() -> Normalization {
        let (sum, sumOfSquares) = features.withUnsafeBufferPointer { buffer -> (Double, Double) in
            var sum = 0.0
            var squares = 0.0
            for value in buffer { sum += Double(value) }
            let mean = buffer.isEmpty ? 0 : sum / Double(buffer.count)
            for value in buffer {
                let d = Double(value) - mean
                squares += d * d
            }
            return (sum, squares)
        }
        let n = Double(max(features.count, 1))
        let std = (sumOfSquares / n).squareRoot()
        return Normalization(mean: Float(sum / n), std: std > 0 && std.isFinite ? Float(std) : 1)
    }

    /// Standardizes every feature in place: `x = (x - mean) / std`.
    public mutating func standardize(_ normalization: Normalization) {
        let (mean, std) = (normalization.mean, normalization.std)
        var features = self.features
        self.features = Tensor(zeros: [0])  // drop the second reference so the write is in place
        features.withUnsafeMutableBufferPointer { buffer in
            for i in buffer.indices { buffer[i] = (buffer[i] - mean) / std }
        }
        self.features = features
    }

    /// A copy with every feature standardized: `x = (x - mean) / std`.
    public func standardized(_ normalization: Normalization) -> Dataset {
        var copy = self
        copy.standardize(normalization)
        return copy
    }
}
