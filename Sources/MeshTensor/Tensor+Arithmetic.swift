extension Tensor {
    /// Sets every element to `value`.
    public mutating func fill(_ value: Float) {
        withUnsafeMutableBufferPointer { buffer in
            buffer.update(repeating: value)
        }
    }

    /// Adds `other` element by element.
    ///
    /// - Precondition: both tensors have the same number of elements.
    public mutating func add(_ other: Tensor) {
        precondition(count == other.count, "add: \(shape) vs \(other.shape)")
        other.withUnsafeBufferPointer { src in
            withUnsafeMutableBufferPointer { dst in
                for i in 0..<dst.count { dst[i] += src[i] }
            }
        }
    }

    /// Subtracts `other` element by element.
    public mutating func subtract(_ other: Tensor) {
        precondition(count == other.count, "subtract: \(shape) vs \(other.shape)")
        other.withUnsafeBufferPointer { src in
            withUnsafeMutableBufferPointer { dst in
                for i in 0..<dst.count { dst[i] -= src[i] }
            }
        }
    }

    /// Multiplies by `other` element by element (Hadamard product).
    public mutating func multiply(_ other: Tensor) {
        precondition(count == other.count, "multiply: \(shape) vs \(other.shape)")
        other.withUnsafeBufferPointer { src in
            withUnsafeMutableBufferPointer { dst in
                for i in 0..<dst.count { dst[i] *= src[i] }
            }
        }
    }

    /// Multiplies every element by `factor`.
    public mutating func scale(by factor: Float) {
        withUnsafeMutableBufferPointer { dst in
            for i in 0..<dst.count { dst[i] *= factor }
        }
    }

    /// `self += alpha * x` (BLAS axpy), element by element.
    public mutating func addScaled(_ x: Tensor, by alpha: Float) {
        precondition(count == x.count, "addScaled: \(shape) vs \(x.shape)")
        x.withUnsafeBufferPointer { src in
            withUnsafeMutableBufferPointer { dst in
                for i in 0..<dst.count { dst[i] += alpha * src[i] }
            }
        }
    }

    /// Applies `transform` to every element.
    @inlinable
    public mutating func apply(_ transform: (Float) -> Float) {
        withUnsafeMutableBufferPointer { dst in
            for i in 0..<dst.count { dst[i] = transform(dst[i]) }
        }
    }

    /// A tensor of the same shape with `transform` applied to every element.
    @inlinable
    public func map(_ transform: (Float) -> Float) -> Tensor {
        var result = self
        result.apply(transform)
        return result
    }

    /// Element-wise sum.
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        var result = lhs
        result.add(rhs)
        return result
    }

    /// Element-wise difference.
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor {
        var result = lhs
        result.subtract(rhs)
        return result
    }

    /// Element-wise product.
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor {
        var result = lhs
        result.multiply(rhs)
        return result
    }

    /// Every element times a scalar.
    public static func * (lhs: Tensor, rhs: Float) -> Tensor {
        var result = lhs
        result.scale(by: rhs)
        return result
    }

    /// Whether every element is finite (no NaN, no ±infinity).
    public var isFinite: Bool {
        withUnsafeBufferPointer { buffer in
            for value in buffer where !value.isFinite { return false }
            return true
        }
    }

    /// Whether `other` has the same shape and every element within
    /// `absolute + relative * |other|` of this one's.
    public func isClose(to other: Tensor, absolute: Float = 1e-6, relative: Float = 1e-5) -> Bool {
        guard shape == other.shape else { return false }
        for (a, b) in zip(scalars, other.scalars) {
            if !(abs(a - b) <= absolute + relative * abs(b)) { return false }
        }
        return true
    }
}
