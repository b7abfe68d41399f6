public import MeshTensor

/// Coordinate-wise trimmed mean (Yin et al. 2018): for each weight, drop the
/// `⌊β·n⌋` largest and smallest client values and average the rest. Tolerates
/// up to `⌊β·n⌋` arbitrary updates; ignores sample counts.
///
/// ```swift
/// let next = try TrimmedMean(trimFraction: 0.2).aggregate(global: w, updates: round)
/// ```
///
/// - Complexity: O(p · n log n) for p parameters and n updates.
public struct TrimmedMean: Strategy {
    /// β: the fraction cut from each end, in [0, 0.5).
    public var trimFraction: Double

    public var name: String { "trimmed-mean" }

    /// Creates the strategy.
    ///
    /// - Precondition: `0 <= trimFraction < 0.5`.
    public init(trimFraction: Double = 0.1) {
        precondition(trimFraction >= 0 && trimFraction < 0.5, "trim fraction \(trimFraction) is outside [0, 0.5)")
        self.trimFraction = trimFraction
    }

    public func aggregate(global: [String: Tensor], updates: [ClientUpdate]) throws -> [String: Tensor] {
        try checkShapes(global: global, updates: updates)
        try checkFinite(updates)
        let trim = Int((trimFraction * Double(updates.count)).rounded(.down))
        return CoordinateMedian.coordinatewise(global: global, updates: updates) { values in
            var sum = 0.0
            for value in values[trim..<(values.count - trim)] { sum += Double(value) }
            return sum / Double(values.count - 2 * trim)
        }
    }
}
