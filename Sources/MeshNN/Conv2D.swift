public import MeshTensor

/// A 2-D convolution over `[batch, c, h, w]`, as PyTorch's `nn.Conv2d`
/// (square kernel, equal stride and zero padding on both axes).
///
/// Computed as one GEMM over the whole batch: the input is unfolded into a
/// `[c·k·k, n·oh·ow]` column matrix (`Im2Col`), multiplied by the weights
/// `[out, c·k·k]`, and the `[out, n, oh·ow]` result is permuted to
/// `[n, out, oh, ow]`.
public final class Conv2D: Layer {
    /// `[out, in, k, k]`.
    public let weight: Parameter
    /// `[out]`, or nil without bias.
    public let bias: Parameter?
    /// Input channels, output channels, kernel, stride, padding.
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int

    /// Whether `backward` computes the input gradient; false for a first
    /// layer, whose input gradient nobody reads (saves a GEMM and a fold).
    public var computesInputGradient = true

    private var columns: [Float] = []
    private var geometry = ConvGeometry(batch: 0, channels: 0, height: 0, width: 0, kernel: 1)

    /// Creates a layer initialised as PyTorch does: uniform in ±1/√(in·k·k).
    public init(
        inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
        bias: Bool = true, name: String, generator: inout SeededGenerator
    ) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        let bound = 1 / Float(inChannels * kernel * kernel).squareRoot()
        weight = Parameter(
            name: "\(name).weight",
            value: Initializer.uniform(shape: [outChannels, inChannels, kernel, kernel], bound: bound, using: &generator))
        self.bias = bias
            ? Parameter(name: "\(name).bias", value: Initializer.uniform(shape: [outChannels], bound: bound, using: &generator))
            : nil
    }

    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        precondition(input.rank == 4 && input.shape[1] == inChannels, "Conv2D expects [n, \(inChannels), h, w], got \(input.shape)")
        let g = ConvGeometry(batch: input.shape[0], channels: inChannels, height: input.shape[2], width: input.shape[3],
                             kernel: kernel, stride: stride, padding: padding)
        let patchSize = g.patchSize, patchCount = g.patchCount
        let spatial = g.outHeight * g.outWidth
        if columns.count != patchSize * patchCount {
            columns = [Float](repeating: 0, count: patchSize * patchCount)
        }
        input.withUnsafeBufferPointer { x in
            columns.withUnsafeMutableBufferPointer { cols in
                Im2Col.unfold(x.baseAddress!, geometry: g, into: cols.baseAddress!)
            }
        }
        geometry = g

        // [out, n·spatial] = W[out, ckk] · cols[ckk, n·spatial]
        var product = [Float](repeating: 0, count: outChannels * patchCount)
        weight.value.withUnsafeBufferPointer { w in
            columns.withUnsafeBufferPointer { cols in
                product.withUnsafeMutableBufferPointer { out in
                    BLAS.sgemm(transposeA: false, transposeB: false, m: outChannels, n: patchCount, k: patchSize,
                               alpha: 1, a: w.baseAddress!, lda: patchSize, b: cols.baseAddress!, ldb: patchCount,
                               beta: 0, c: out.baseAddress!, ldc: patchCount)
                }
            }
        }
        // Permute [out, n, spatial] → [n, out, spatial] and add the bias.
        var output = Tensor(zeros: [g.batch, outChannels, g.outHeight, g.outWidth])
        let biasValues = bias?.value.scalars
        product.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                for o in 0..<outChannels {
                    let b = biasValues?[o] ?? 0
                    for n in 0..<g.batch {
                        let s = src.baseAddress! + (o * g.batch + n) * spatial
                        let d = dst.baseAddress! + (n * outChannels + o) * spatial
                        for i in 0..<spatial { d[i] = s[i] + b }
                    }
                }
            }
        }
        if !training { columns = [] }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        let g = geometry
        let patchSize = g.patchSize, patchCount = g.patchCount
        let spatial = g.outHeight * g.outWidth
        // Permute dY [n, out, spatial] → [out, n·spatial].
        var dy = [Float](repeating: 0, count: outChannels * patchCount)
        outputGradient.withUnsafeBufferPointer { src in
            dy.withUnsafeMutableBufferPointer { dst in
                for n in 0..<g.batch {
                    for o in 0..<outChannels {
                        let s = src.baseAddress! + (n * outChannels + o) * spatial
                        let d = dst.baseAddress! + (o * g.batch + n) * spatial
                        d.update(from: s, count: spatial)
                    }
                }
            }
        }
        if let bias {
            dy.withUnsafeBufferPointer { d in
                bias.gradient.withUnsafeMutableBufferPointer { db in
                    for o in 0..<outChannels {
                        var total: Float = 0
                        let row = d.baseAddress! + o * patchCount
                        for i in 0..<patchCount { total += row[i] }
                        db[o] += total
                    }
                }
            }
        }
        // dW[out, ckk] += dY'[out, n·spatial] · colsᵀ
        dy.withUnsafeBufferPointer { d in
            columns.withUnsafeBufferPointer { cols in
                weight.gradient.withUnsafeMutableBufferPointer { dw in
                    BLAS.sgemm(transposeA: false, transposeB: true, m: outChannels, n: patchSize, k: patchCount,
                               alpha: 1, a: d.baseAddress!, lda: patchCount, b: cols.baseAddress!, ldb: patchCount,
                               beta: 1, c: dw.baseAddress!, ldc: patchSize)
                }
            }
        }
        guard computesInputGradient else { return Tensor(zeros: [0]) }
        // dCols[ckk, n·spatial] = Wᵀ · dY' ; fold back into dX. The column
        // buffer is reused for dCols: its forward contents are no longer needed.
        weight.value.withUnsafeBufferPointer { w in
            dy.withUnsafeBufferPointer { d in
                columns.withUnsafeMutableBufferPointer { cols in
                    BLAS.sgemm(transposeA: true, transposeB: false, m: patchSize, n: patchCount, k: outChannels,
                               alpha: 1, a: w.baseAddress!, lda: patchSize, b: d.baseAddress!, ldb: patchCount,
                               beta: 0, c: cols.baseAddress!, ldc: patchCount)
                }
            }
        }
        var inputGradient = Tensor(zeros: [g.batch, g.channels, g.height, g.width])
        columns.withUnsafeBufferPointer { cols in
            inputGradient.withUnsafeMutableBufferPointer { dx in
                Im2Col.fold(cols.baseAddress!, geometry: g, into: dx.baseAddress!)
            }
        }
        return inputGradient
    }
}
