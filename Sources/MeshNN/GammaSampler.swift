import MeshTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Gamma(shape, 1) variates by Marsaglia and Tsang's method (ACM TOMS 26(3), 2000).
///
/// For shape ≥ 1: with d = shape − 1/3 and c = 1/√(9d), draw z ~ N(0,1), v = (1 + cz)³,
/// and accept d·v when ln U < z²/2 + d − d·v + d·ln v. For shape < 1 the boost
/// Gamma(shape) = Gamma(shape + 1) · U^(1/shape) is used. All arithmetic is in `Double`;
/// normal draws use Box–Muller on 53-bit uniforms from the caller's generator, so a seed
/// fixes the sequence.
enum GammaSampler {
    /// One Gamma(shape, 1) variate.
    ///
    /// - Precondition: `shape > 0`.
    static func sample(shape: Double, using rng: inout SeededGenerator) -> Double {
        precondition(shape > 0, "gamma shape must be positive")
        if shape < 1 {
            let boosted = sample(shape: shape + 1, using: &rng)
            var u = rng.nextUniformDouble()
            while u <= 0 { u = rng.nextUniformDouble() }
            return boosted * pow(u, 1 / shape)
        }
        let d = shape - 1.0 / 3.0
        let c = 1.0 / (9 * d).squareRoot()
        // Acceptance probability is > 0.95 for every shape ≥ 1, so this ends almost at once;
        // the bound only guards against a broken generator.
        for _ in 0..<10_000 {
            var z = 0.0
            var v = 0.0
            repeat {
                z = normal(using: &rng)
                v = 1 + c * z
            } while v <= 0
            v = v * v * v
            let u = rng.nextUniformDouble()
            if u < 1 - 0.0331 * z * z * z * z { return d * v }
            if u > 0, log(u) < 0.5 * z * z + d * (1 - v + log(v)) { return d * v }
        }
        return shape
    }

    /// A standard normal variate (Box–Muller, one of the pair).
    static func normal(using rng: inout SeededGenerator) -> Double {
        var u1 = rng.nextUniformDouble()
        while u1 <= Double.leastNormalMagnitude { u1 = rng.nextUniformDouble() }
        let u2 = rng.nextUniformDouble()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
