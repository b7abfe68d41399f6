public import MeshTensor

/// 2-D max pooling over `[batch, c, h, w]`, as PyTorch's `nn.MaxPool2d`
/// (no padding, floor mode). Ties go to the first maximum in scan order.
public final class MaxPool2D: Layer {
    /// Window size and stride.
    public let kernel: Int, stride: Int
    private var argmax: [Int32] = []
    private var inputShape: [Int] = []

    /// Creates a pooling layer; `stride` defaults to `kernel`.
    public init(kernel: Int, stride: Int? = nil) {
        self.kernel = kernel
        self.stride = stride ?? kernel
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        precondition(input.rank == 4, "MaxPool2D expects [n, c, h, w], got \(input.shape)")
        let (planes, h, w) = (input.shape[0] * input.shape[1], input.shape[2], input.shape[3])
        let oh = (h - kernel) / stride + 1, ow = (w - kernel) / stride + 1
        if training {
            inputShape = input.shape
            if argmax.count != planes * oh * ow { argmax = [Int32](repeating: 0, count: planes * oh * ow) }
        }
        let k = kernel, s = stride
        return Tensor(shape: [input.shape[0], input.shape[1], oh, ow], unsafeUninitializedScalars: { y in
            input.withUnsafeBufferPointer { x in
                argmax.withUnsafeMutableBufferPointer { arg in
                    Parallel.forEachChunk(of: planes, minimumWork: planes * oh * ow * k * k) { chunk in
                        for plane in chunk {
                            let src = x.baseAddress! + plane * h * w
                            let dst = y.baseAddress! + plane * oh * ow
                            let indices = training ? arg.baseAddress.map { $0 + plane * oh * ow } : nil
                            if k == 2 && s == 2 {
                                Self.pool2x2(src, width: w, outHeight: oh, outWidth: ow, into: dst, argmax: indices)
                            } else {
                                Self.pool(src, width: w, kernel: k, stride: s, outHeight: oh, outWidth: ow, into: dst,
                                          argmax: indices)
                            }
                        }
                    }
                }
            }
        })
    }

    /// One plane, any window: the first maximum in scan order, NaNs never win.
    private static func pool(
        _ src: UnsafePointer<Float>, width w: Int, kernel k: Int, stride s: Int, outHeight oh: Int, outWidth ow: Int,
        into dst: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?
    ) {
        for i in 0..<oh {
            for j in 0..<ow {
                var best = -Float.infinity
                var bestIndex = (i * s) * w + j * s
                for di in 0..<k {
                    let rowBase = (i * s + di) * w + j * s
                    for dj in 0..<k where src[rowBase + dj] > best {
                        best = src[rowBase + dj]
                        bestIndex = rowBase + dj
                    }
                }
                dst[i * ow + j] = best
                argmax?[i * ow + j] = Int32(bestIndex)
            }
        }
    }

    /// One plane, 2×2 windows at stride 2 (the common case): `pool` unrolled.
    private static func pool2x2(
        _ src: UnsafePointer<Float>, width w: Int, outHeight oh: Int, outWidth ow: Int,
        into dst: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?
    ) {
        for i in 0..<oh {
            for j in 0..<ow {
                let top = 2 * i * w + 2 * j, bottom = top + w
                var best = -Float.infinity, bestIndex = top
                if src[top] > best { best = src[top] }
                if src[top + 1] > best { best = src[top + 1]; bestIndex = top + 1 }
                if src[bottom] > best { best = src[bottom]; bestIndex = bottom }
                if src[bottom + 1] > best { best = src[bottom + 1]; bestIndex = bottom + 1 }
                dst[i * ow + j] = best
                argmax?[i * ow + j] = Int32(bestIndex)
            }
        }
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        let planes = inputShape[0] * inputShape[1]
        let planeIn = inputShape[2] * inputShape[3]
        let planeOut = outputGradient.shape[2] * outputGradient.shape[3]
        // Plane by plane: clear it (while it is in cache) and route each
        // output's gradient to its window's maximum, in output order.
        return Tensor(shape: inputShape, unsafeUninitializedScalars: { dx in
            outputGradient.withUnsafeBufferPointer { dy in
                argmax.withUnsafeBufferPointer { arg in
                    Parallel.forEachChunk(of: planes, minimumWork: planes * planeIn) { chunk in
                        for plane in chunk {
                            let dst = dx.baseAddress! + plane * planeIn
                            dst.update(repeating: 0, count: planeIn)
                            for o in (plane * planeOut)..<((plane + 1) * planeOut) { dst[Int(arg[o])] += dy[o] }
                        }
                    }
                }
            }
        })
    }
}

/// 2-D average pooling over `[batch, c, h, w]`, as PyTorch's `nn.AvgPool2d`
/// (no padding, floor mode).
public final class AvgPool2D: Layer {
    /// Window size and stride.
    public let kernel: Int, stride: Int
    private var inputShape: [Int] = []

    /// Creates a pooling layer; `stride` defaults to `kernel`.
    public init(kernel: Int, stride: Int? = nil) {
        self.kernel = kernel
        self.stride = stride ?? kernel
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        precondition(input.rank == 4, "AvgPool2D expects [n, c, h, w], got \(input.shape)")
        let (planes, h, w) = (input.shape[0] * input.shape[1], input.shape[2], input.shape[3])
        let oh = (h - kernel) / stride + 1, ow = (w - kernel) / stride + 1
        var output = Tensor(zeros: [input.shape[0], input.shape[1], oh, ow])
        inputShape = input.shape
        let k = kernel, s = stride
        let scale = 1 / Float(k * k)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                for plane in 0..<planes {
                    let src = x.baseAddress! + plane * h * w
                    for i in 0..<oh {
                        for j in 0..<ow {
                            var total: Float = 0
                            for di in 0..<k {
                                let rowBase = (i * s + di) * w + j * s
                                for dj in 0..<k { total += src[rowBase + dj] }
                            }
                            y[(plane * oh + i) * ow + j] = total * scale
                        }
                    }
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        var inputGradient = Tensor(zeros: inputShape)
        let (planes, h, w) = (inputShape[0] * inputShape[1], inputShape[2], inputShape[3])
        let oh = outputGradient.shape[2], ow = outputGradient.shape[3]
        let k = kernel, s = stride
        let scale = 1 / Float(k * k)
        outputGradient.withUnsafeBufferPointer { dy in
            inputGradient.withUnsafeMutableBufferPointer { dx in
                for plane in 0..<planes {
                    let dst = dx.baseAddress! + plane * h * w
                    for i in 0..<oh {
                        for j in 0..<ow {
                            let g = dy[(plane * oh + i) * ow + j] * scale
                            for di in 0..<k {
                                let rowBase = (i * s + di) * w + j * s
                                for dj in 0..<k { dst[rowBase + dj] += g }
                            }
                        }
                    }
                }
            }
        }
        return inputGradient
    }
}
