/// The geometry of a 2-D convolution or pooling window over `[n, c, h, w]` input.
public struct ConvGeometry: Sendable, Hashable {
    /// Batch size.
    public var batch: Int
    /// Input channels.
    public var channels: Int
    /// Input height and width.
    public var height: Int, width: Int
    /// Square kernel size.
    public var kernel: Int
    /// Stride in both directions.
    public var stride: Int
    /// Zero padding on every side.
    public var padding: Int

    /// Creates a geometry; sizes must be positive and the window must fit.
    public init(batch: Int, channels: Int, height: Int, width: Int, kernel: Int, stride: Int = 1, padding: Int = 0) {
        self.batch = batch
        self.channels = channels
        self.height = height
        self.width = width
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    /// Output height: `(h + 2p - k) / s + 1`.
    @inlinable public var outHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    /// Output width: `(w + 2p - k) / s + 1`.
    @inlinable public var outWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    /// Rows of the column matrix: `c · k · k`.
    @inlinable public var patchSize: Int { channels * kernel * kernel }
    /// Columns of the column matrix: `n · outH · outW`.
    @inlinable public var patchCount: Int { batch * outHeight * outWidth }
}

/// Unfolds image patches into columns and folds them back (for convolution by GEMM).
///
/// The column matrix has shape `[c·k·k, n·outH·outW]`: row `(c, ki, kj)`,
/// column `(n, oh, ow)`. With weights `W` as `[out, c·k·k]`, `W · cols` is the
/// convolution output in `[out, n, outH, outW]` order.
public enum Im2Col {
    /// Writes the column matrix of `input` (`[n, c, h, w]`) into `columns`.
    ///
    /// - Complexity: O(c·k²·n·outH·outW).
    public static func unfold(
        _ input: UnsafePointer<Float>, geometry g: ConvGeometry, into columns: UnsafeMutablePointer<Float>
    ) {
        // Channels write disjoint rows: split them over the workers.
        Parallel.forEachChunk(of: g.channels, minimumWork: g.patchSize * g.patchCount) { channels in
            unfold(input, geometry: g, channels: channels, into: columns)
        }
    }

    private static func unfold(
        _ input: UnsafePointer<Float>, geometry g: ConvGeometry, channels: Range<Int>, into columns: UnsafeMutablePointer<Float>
    ) {
        let outH = g.outHeight, outW = g.outWidth
        let outHW = outH * outW
        let patchCount = g.patchCount
        let k = g.kernel, s = g.stride, p = g.padding
        for c in channels {
            for ki in 0..<k {
                for kj in 0..<k {
                    let row = (c * k + ki) * k + kj
                    let rowBase = columns + row * patchCount
                    for n in 0..<g.batch {
                        let image = input + (n * g.channels + c) * g.height * g.width
                        let dst = rowBase + n * outHW
                        for oh in 0..<outH {
                            let ih = oh * s - p + ki
                            let dstRow = dst + oh * outW
                            if ih < 0 || ih >= g.height {
                                dstRow.update(repeating: 0, count: outW)
                                continue
                            }
                            let srcRow = image + ih * g.width
                            if s == 1 {
                                // Contiguous run: the columns whose input column is in range.
                                let iw0 = kj - p
                                let first = Swift.max(0, -iw0)
                                let last = Swift.min(outW, g.width - iw0)
                                if first > 0 { dstRow.update(repeating: 0, count: first) }
                                if last > first { (dstRow + first).update(from: srcRow + iw0 + first, count: last - first) }
                                if last < outW {
                                    let start = Swift.max(last, first)
                                    (dstRow + start).update(repeating: 0, count: outW - start)
                                }
                            } else {
                                for ow in 0..<outW {
                                    let iw = ow * s - p + kj
                                    dstRow[ow] = (iw >= 0 && iw < g.width) ? srcRow[iw] : 0
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Adds the column matrix `columns` back into `output` (`[n, c, h, w]`),
    /// accumulating overlapping patches (the adjoint of `unfold`).
    /// `output` is not cleared first.
    public static func fold(
        _ columns: UnsafePointer<Float>, geometry g: ConvGeometry, into output: UnsafeMutablePointer<Float>
    ) {
        // Channel c only writes plane c of each image: the split is race-free
        // and each element's additions keep their order, so results are
        // identical for any worker count.
        Parallel.forEachChunk(of: g.channels, minimumWork: g.patchSize * g.patchCount) { channels in
            fold(columns, geometry: g, channels: channels, into: output)
        }
    }

    private static func fold(
        _ columns: UnsafePointer<Float>, geometry g: ConvGeometry, channels: Range<Int>, into output: UnsafeMutablePointer<Float>
    ) {
        let outH = g.outHeight, outW = g.outWidth
        let outHW = outH * outW
        let patchCount = g.patchCount
        let k = g.kernel, s = g.stride, p = g.padding
        for c in channels {
            for ki in 0..<k {
                for kj in 0..<k {
                    let row = (c * k + ki) * k + kj
                    let rowBase = columns + row * patchCount
                    for n in 0..<g.batch {
                        let image = output + (n * g.channels + c) * g.height * g.width
                        let src = rowBase + n * outHW
                        for oh in 0..<outH {
                            let ih = oh * s - p + ki
                            if ih < 0 || ih >= g.height { continue }
                            let srcRow = src + oh * outW
                            let dstRow = image + ih * g.width
                            if s == 1 {
                                let iw0 = kj - p
                                let first = Swift.max(0, -iw0)
                                let last = Swift.min(outW, g.width - iw0)
                                if last > first {
                                    for ow in first..<last { dstRow[ow + iw0] += srcRow[ow] }
                                }
                            } else {
                                for ow in 0..<outW {
                                    let iw = ow * s - p + kj
                                    if iw >= 0 && iw < g.width { dstRow[iw] += srcRow[ow] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
