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

    /// Stride 1 and `2p = k - 1`, with the padding narrower than the image: the
    /// output plane has the input plane's size (the fast path of `Im2Col`'s
    /// per-image kernels).
    var keepsSize: Bool {
        stride == 1 && 2 * padding == kernel - 1 && padding < width && padding < height
    }

    /// For a size-keeping geometry, the output rows whose input row `oh + ki - p`
    /// lies inside the image.
    func shiftedRows(_ ki: Int) -> Range<Int> {
        let dy = ki - padding
        return Swift.max(0, -dy)..<Swift.min(height, height - dy)
    }
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

    /// Writes the `[c·k·k, outH·outW]` column matrix of one image (`[c, h, w]`)
    /// into `columns`, on the calling thread (`geometry.batch` is ignored).
    ///
    /// - Complexity: O(c·k²·outH·outW).
    public static func unfoldImage(
        _ image: UnsafePointer<Float>, geometry: ConvGeometry, into columns: UnsafeMutablePointer<Float>
    ) {
        var g = geometry
        g.batch = 1
        if g.keepsSize {
            unfoldKeepingSize(image, geometry: g, into: columns)
        } else {
            unfold(image, geometry: g, channels: 0..<g.channels, into: columns)
        }
    }

    /// `unfoldImage` when the output plane has the input's size: each row of
    /// the column matrix is then the input plane shifted by `(ki - p)·w + kj - p`
    /// elements, so one block copy per row and a few zeros for the columns that
    /// wrapped around a row edge.
    private static func unfoldKeepingSize(
        _ image: UnsafePointer<Float>, geometry g: ConvGeometry, into columns: UnsafeMutablePointer<Float>
    ) {
        let w = g.width, plane = g.height * g.width, k = g.kernel
        for c in 0..<g.channels {
            let src = image + c * plane
            for ki in 0..<k {
                let rows = g.shiftedRows(ki)
                for kj in 0..<k {
                    let dst = columns + ((c * k + ki) * k + kj) * plane
                    let dx = kj - g.padding
                    let shift = (ki - g.padding) * w + dx
                    let lo = rows.lowerBound * w + Swift.max(0, -dx), hi = rows.upperBound * w - Swift.max(0, dx)
                    // The zero runs are a row or two: loops beat calls to memset here.
                    for i in 0..<lo { dst[i] = 0 }
                    (dst + lo).update(from: src + (lo + shift), count: hi - lo)
                    for i in hi..<plane { dst[i] = 0 }
                    zeroWrappedColumns(dst, rows: rows, width: w, shift: dx)
                }
            }
        }
    }

    /// Zeroes, in each of `rows` of a `[h, w]` plane, the columns whose input
    /// column `ow + shift` lies outside `0..<w`.
    private static func zeroWrappedColumns(_ plane: UnsafeMutablePointer<Float>, rows: Range<Int>, width w: Int, shift: Int) {
        guard shift != 0 else { return }
        let start = shift < 0 ? 0 : w - shift, count = Swift.abs(shift)
        // Column by column: a row-wise loop of one or two stores would become
        // a call to memset per row.
        let first = plane + rows.lowerBound * w + start
        for i in 0..<count {
            for row in 0..<rows.count { first[row * w + i] = 0 }
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
                    // Output columns whose input column is in range (stride 1: a contiguous run).
                    let iw0 = kj - p
                    let first = s == 1 ? Swift.min(outW, Swift.max(0, -iw0)) : 0
                    let last = s == 1 ? Swift.max(first, Swift.min(outW, g.width - iw0)) : 0
                    for n in 0..<g.batch {
                        let image = input + (n * g.channels + c) * g.height * g.width
                        let dst = rowBase + n * outHW
                        for oh in 0..<outH {
                            let ih = oh * s - p + ki
                            let dstRow = dst + oh * outW
                            if ih < 0 || ih >= g.height {
                                for ow in 0..<outW { dstRow[ow] = 0 }
                                continue
                            }
                            let srcRow = image + ih * g.width
                            if s == 1 {
                                // Plain loops: runs are a few dozen floats, too short for memmove.
                                for ow in 0..<first { dstRow[ow] = 0 }
                                let from = srcRow + (first + iw0), to = dstRow + first
                                for i in 0..<(last - first) { to[i] = from[i] }
                                for ow in last..<outW { dstRow[ow] = 0 }
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

    /// Adds the `[c·k·k, outH·outW]` column matrix of one image back into
    /// `image` (`[c, h, w]`), on the calling thread (`geometry.batch` is
    /// ignored). `image` is not cleared first.
    ///
    /// The entries of `columns` that fall on padding are zeroed on the way
    /// (`columns` is scratch memory to the caller).
    public static func foldImage(
        _ columns: UnsafeMutablePointer<Float>, geometry: ConvGeometry, into image: UnsafeMutablePointer<Float>
    ) {
        var g = geometry
        g.batch = 1
        if g.keepsSize {
            foldKeepingSize(columns, geometry: g, into: image)
        } else {
            fold(columns, geometry: g, channels: 0..<g.channels, into: image)
        }
    }

    /// `foldImage` when the output plane has the input's size: the adjoint of
    /// `unfoldKeepingSize`, one block addition per row of the column matrix
    /// after zeroing its wrapped columns (which then add 0 to a neighbouring
    /// row). Each input element still receives its terms in (ki, kj) order.
    private static func foldKeepingSize(
        _ columns: UnsafeMutablePointer<Float>, geometry g: ConvGeometry, into image: UnsafeMutablePointer<Float>
    ) {
        let w = g.width, plane = g.height * g.width, k = g.kernel
        for c in 0..<g.channels {
            let dst = image + c * plane
            for ki in 0..<k {
                let rows = g.shiftedRows(ki)
                for kj in 0..<k {
                    let src = columns + ((c * k + ki) * k + kj) * plane
                    let dx = kj - g.padding
                    let shift = (ki - g.padding) * w + dx
                    let lo = rows.lowerBound * w + Swift.max(0, -dx), hi = rows.upperBound * w - Swift.max(0, dx)
                    zeroWrappedColumns(src, rows: rows, width: w, shift: dx)
                    let from = src + lo, to = dst + (lo + shift)
                    for i in 0..<(hi - lo) { to[i] += from[i] }
                }
            }
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
                                    let from = srcRow + first, to = dstRow + (first + iw0)
                                    for i in 0..<(last - first) { to[i] += from[i] }
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
