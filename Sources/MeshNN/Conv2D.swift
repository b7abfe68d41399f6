public import MeshTensor

/// A 2-D convolution over `[batch, c, h, w]`, as PyTorch's `nn.Conv2d`
/// (square kernel, equal stride and zero padding on both axes).
///
/// Computed image by image, each image's products on one of ``Parallel``'s
/// workers: the image is unfolded into a `[c·k·k, oh·ow]` column matrix
/// (`Im2Col`) that stays in the core's cache, and the weights `[out, c·k·k]`
/// times it is the image's `[out, oh, ow]` output, already in `[n, out, oh, ow]`
/// order. Backward unfolds each image again rather than keeping the columns of
/// the whole batch (for the reference CNN's second layer that would be 40 MB
/// written and read back per batch).
///
/// The weight gradient is summed per group of ``gradientGroup`` images into a
/// partial of its own, and the partials are added in group order: the result
/// does not depend on how groups are spread over the workers, so it is
/// bitwise the same for any worker count.
public final class Conv2D: Layer {
    /// `[out, in, k, k]`.
    public let weight: Parameter
    /// `[out]`, or nil without bias.
    public let bias: Parameter?
    /// Input channels, output channels, kernel, stride, padding.
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int

    /// Whether `backward` computes the input gradient; false for a first
    /// layer, whose input gradient nobody reads (saves a GEMM and a fold per image).
    public var computesInputGradient = true

    /// Images whose weight gradients are summed into one partial.
    public static let gradientGroup = 8

    /// The input of the last training forward pass (unfolded again in backward).
    private var input = Tensor(zeros: [0])
    /// One column matrix per worker.
    private var columns: [Float] = []
    /// Weight and bias gradients per group of images.
    private var partials: [Float] = []

    /// Creates a layer initialised as PyTorch does: uniform in ±1/√(in·k·k).
    public convenience init(
        inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
        bias: Bool = true, name: String, generator: inout SeededGenerator
    ) {
        self.init(inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride, padding: padding,
                  bias: bias, name: name) { shape, bound in Initializer.uniform(shape: shape, bound: bound, using: &generator) }
    }

    /// Creates a layer whose parameters are `initial(shape, bound)` (weight first, then bias).
    init(
        inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int,
        bias: Bool, name: String, initial: (_ shape: [Int], _ bound: Float) -> Tensor
    ) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        let bound = 1 / Float(inChannels * kernel * kernel).squareRoot()
        weight = Parameter(name: "\(name).weight", value: initial([outChannels, inChannels, kernel, kernel], bound))
        self.bias = bias ? Parameter(name: "\(name).bias", value: initial([outChannels], bound)) : nil
    }

    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        precondition(input.rank == 4 && input.shape[1] == inChannels, "Conv2D expects [n, \(inChannels), h, w], got \(input.shape)")
        let batch = input.shape[0]
        let g = imageGeometry(input.shape)
        let patchSize = g.patchSize, spatial = g.patchCount
        let inPlane = inChannels * g.height * g.width, outPlane = outChannels * spatial
        let parts = Parallel.partCount(of: batch, minimumWork: batch * outPlane * patchSize)
        reserveColumns(parts: parts, count: patchSize * spatial)
        let out = outChannels
        let output = Tensor(shape: [batch, outChannels, g.outHeight, g.outWidth], unsafeUninitializedScalars: { y in
            input.withUnsafeBufferPointer { x in
                weight.value.withUnsafeBufferPointer { w in
                    withBias { b in
                        columns.withUnsafeMutableBufferPointer { scratch in
                            Parallel.forEachPart(of: batch, minimumWork: batch * outPlane * patchSize) { part, images in
                                let cols = scratch.baseAddress! + part * patchSize * spatial
                                for image in images {
                                    Im2Col.unfoldImage(x.baseAddress! + image * inPlane, geometry: g, into: cols)
                                    let dst = y.baseAddress! + image * outPlane
                                    // y[out, spatial] = W[out, ckk] · cols[ckk, spatial] (+ bias per row)
                                    if let b {
                                        for o in 0..<out {
                                            let row = dst + o * spatial, value = b[o]
                                            for i in 0..<spatial { row[i] = value }
                                        }
                                    }
                                    BLAS.sgemm(transposeA: false, transposeB: false, m: out, n: spatial, k: patchSize,
                                               alpha: 1, a: w.baseAddress!, lda: patchSize, b: cols, ldb: spatial,
                                               beta: b == nil ? 0 : 1, c: dst, ldc: spatial, parallel: false)
                                }
                            }
                        }
                    }
                }
            }
        })
        if training { self.input = input }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        let batch = input.shape[0]
        let g = imageGeometry(input.shape)
        let patchSize = g.patchSize, spatial = g.patchCount
        let inPlane = inChannels * g.height * g.width, outPlane = outChannels * spatial
        let out = outChannels
        let weightCount = out * patchSize
        let groupSize = Self.gradientGroup
        let groups = (batch + groupSize - 1) / groupSize
        let partialSize = weightCount + out
        if partials.count < groups * partialSize { partials = [Float](repeating: 0, count: groups * partialSize) }
        let work = batch * outPlane * patchSize * (computesInputGradient ? 2 : 1)
        let parts = Parallel.partCount(of: groups, minimumWork: work)
        reserveColumns(parts: parts, count: patchSize * spatial)
        let inputGradient = computesInputGradient
        // Each image's plane is cleared by its worker just before the fold.
        var dx = Tensor(shape: inputGradient ? input.shape : [0], unsafeUninitializedScalars: { _ in })
        input.withUnsafeBufferPointer { x in
            outputGradient.withUnsafeBufferPointer { dy in
                weight.value.withUnsafeBufferPointer { w in
                    columns.withUnsafeMutableBufferPointer { scratch in
                        partials.withUnsafeMutableBufferPointer { partial in
                            dx.withUnsafeMutableBufferPointer { dxAll in
                                Parallel.forEachPart(of: groups, minimumWork: work) { part, groupRange in
                                    let cols = scratch.baseAddress! + part * patchSize * spatial
                                    for group in groupRange {
                                        let dw = partial.baseAddress! + group * partialSize
                                        let db = dw + weightCount
                                        let images = (group * groupSize)..<min(batch, (group + 1) * groupSize)
                                        for image in images {
                                            let first = image == images.lowerBound
                                            let d = dy.baseAddress! + image * outPlane
                                            // db[o] (+)= Σ dY[o, :]
                                            for o in 0..<out {
                                                let total = Self.sum(d + o * spatial, count: spatial)
                                                db[o] = first ? total : db[o] + total
                                            }
                                            // dW[out, ckk] (+)= dY[out, spatial] · colsᵀ
                                            Im2Col.unfoldImage(x.baseAddress! + image * inPlane, geometry: g, into: cols)
                                            BLAS.sgemm(transposeA: false, transposeB: true, m: out, n: patchSize, k: spatial,
                                                       alpha: 1, a: d, lda: spatial, b: cols, ldb: spatial,
                                                       beta: first ? 0 : 1, c: dw, ldc: patchSize, parallel: false)
                                            guard inputGradient else { continue }
                                            // dCols[ckk, spatial] = Wᵀ · dY, folded into dX (the columns are spent).
                                            BLAS.sgemm(transposeA: true, transposeB: false, m: patchSize, n: spatial, k: out,
                                                       alpha: 1, a: w.baseAddress!, lda: patchSize, b: d, ldb: spatial,
                                                       beta: 0, c: cols, ldc: spatial, parallel: false)
                                            let dxImage = dxAll.baseAddress! + image * inPlane
                                            dxImage.update(repeating: 0, count: inPlane)
                                            Im2Col.foldImage(cols, geometry: g, into: dxImage)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // Add the groups' partials in group order (element ranges are disjoint).
        partials.withUnsafeBufferPointer { partial in
            weight.gradient.withUnsafeMutableBufferPointer { dw in
                Parallel.forEachChunk(of: weightCount, minimumWork: weightCount * groups) { range in
                    for group in 0..<groups {
                        let src = partial.baseAddress! + group * partialSize
                        for i in range { dw[i] += src[i] }
                    }
                }
            }
            if let bias {
                bias.gradient.withUnsafeMutableBufferPointer { db in
                    for group in 0..<groups {
                        let src = partial.baseAddress! + group * partialSize + weightCount
                        for o in 0..<out { db[o] += src[o] }
                    }
                }
            }
        }
        return dx
    }

    /// The geometry of one image of a batch of `shape`.
    private func imageGeometry(_ shape: [Int]) -> ConvGeometry {
        ConvGeometry(batch: 1, channels: inChannels, height: shape[2], width: shape[3],
                     kernel: kernel, stride: stride, padding: padding)
    }

    /// The sum of `count` floats, in eight interleaved partial sums (so the
    /// loop vectorizes; the order is fixed, so the result is too).
    private static func sum(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            lanes += UnsafeRawPointer(values + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        let quads = lanes.lowHalf + lanes.highHalf, pairs = quads.lowHalf + quads.highHalf
        var total = pairs[0] + pairs[1]
        while i < count {
            total += values[i]
            i += 1
        }
        return total
    }

    private func reserveColumns(parts: Int, count: Int) {
        if columns.count < parts * count { columns = [Float](repeating: 0, count: parts * count) }
    }

    private func withBias<R>(_ body: (UnsafeBufferPointer<Float>?) -> R) -> R {
        guard let bias else { return body(nil) }
        return bias.value.withUnsafeBufferPointer { body($0) }
    }
}
