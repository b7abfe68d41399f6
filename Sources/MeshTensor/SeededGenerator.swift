/// A fast, seedable pseudo-random generator (xoshiro256**, seeded by SplitMix64).
///
/// Every random choice in meshfl — weight initialisation, shuffling, dropout
/// masks, partitioning — draws from one of these, so that the same seed gives
/// the same bits on every machine. The sequence is part of meshfl's
/// determinism contract: changing it changes trained weights.
///
/// ```swift
/// var rng = SeededGenerator(seed: 42)
/// let u = rng.nextUniform()        // [0, 1)
/// let z = rng.nextNormal()         // N(0, 1)
/// let i = Int.random(in: 0..<10, using: &rng)
/// ```
public struct SeededGenerator: RandomNumberGenerator, Sendable, Hashable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// Creates a generator whose whole sequence is determined by `seed`.
    public init(seed: UInt64) {
        var sm = seed
        func splitMix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(&sm)
        s1 = splitMix(&sm)
        s2 = splitMix(&sm)
        s3 = splitMix(&sm)
    }

    /// Creates a generator for a sub-stream, e.g. `(job, round, shard)`:
    /// the parts are mixed so that neighbouring tuples give unrelated streams.
    public init(seed: UInt64, stream parts: UInt64...) {
        var mixed = seed
        for part in parts {
            var g = SeededGenerator(seed: mixed ^ (part &* 0xD1B5_4A32_D192_ED03))
            mixed = g.next()
        }
        self.init(seed: mixed)
    }

    /// The generator's 256-bit state, for checkpoints; ``init(state:)`` resumes from it.
    public var state: [UInt64] { [s0, s1, s2, s3] }

    /// Resumes a generator from ``state`` as saved.
    ///
    /// - Precondition: `state` has four words, not all zero.
    public init(state: [UInt64]) {
        precondition(state.count == 4 && state.contains { $0 != 0 }, "a generator state is four words, not all zero")
        (s0, s1, s2, s3) = (state[0], state[1], state[2], state[3])
    }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        _next()
    }

    @usableFromInline
    mutating func _next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
    }

    /// A uniform `Float` in [0, 1) with 24 random bits.
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A uniform `Double` in [0, 1) with 53 random bits.
    public mutating func nextUniformDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A standard normal sample (Box–Muller, computed in `Double`).
    public mutating func nextNormal() -> Float {
        var u1 = nextUniformDouble()
        while u1 <= Double.leastNormalMagnitude { u1 = nextUniformDouble() }
        let u2 = nextUniformDouble()
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }

    /// A uniformly random permutation of `0..<count` (Fisher–Yates).
    public mutating func permutation(_ count: Int) -> [Int] {
        var order = Array(0..<count)
        if count < 2 { return order }
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            order.swapAt(i, j)
        }
        return order
    }
}

// Foundation-free elementary functions, so MeshTensor depends on libm only.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@inline(__always) func _log(_ x: Double) -> Double { log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { cos(x) }
