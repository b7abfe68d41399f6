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
        var output = Tensor(zeros: [input.shape[0], input.shape[1], oh, ow])
        if training {
            inputShape = input.shape
            argmax = [Int32](repeating: 0, count: output.count)
        }
        let k = kernel, s = stride
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                argmax.withUnsafeMutableBufferPointer { arg in
                  Parallel.forEachChunk(of: planes, minimumWork: planes * oh * ow * k * k) { chunk in
                    for plane in chunk {
                        let src = x.baseAddress! + plane * h * w
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
                                let o = (plane * oh + i) * ow + j
                                y[o] = best
                                if training { arg[o] = Int32(bestIndex) }
                            }
                        }
                    }
                  }
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        var inputGradient = Tensor(zeros: inputShape)
        let planeIn = inputShape[2] * inputShape[3]
        let planeOut = outputGradient.shape[2] * outputGradient.shape[3]
        outputGradient.withUnsafeBufferPointer { dy in
            inputGradient.withUnsafeMutableBufferPointer { dx in
                argmax.withUnsafeBufferPointer { arg in
                    for o in 0..<dy.count {
                        let plane = o / planeOut
                        dx[plane * planeIn + Int(arg[o])] += dy[o]
                    }
                }
            }
        }
        return inputGradient
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
