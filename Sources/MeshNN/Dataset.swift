public import MeshTensor

/// A labelled dataset held in memory: one feature tensor and one class label per sample.
///
/// `features` has shape `[count] + sampleShape` (e.g. `[60000, 1, 28, 28]`), labels are
/// class indices in `0..<classCount`. Loaders: ``fashionMNIST(split:directory:)``,
/// ``idx(images:labels:sampleShape:classCount:)``, ``csv(contentsOf:labelColumn:header:sampleShape:classCount:)``
/// and ``ShardFile``.
///
/// ```swift
/// let train = try Dataset.fashionMNIST(split: .train)
/// let order = rng.permutation(train.count)
/// let (x, y) = train.batch(order[0..<64])   // x: [64, 1, 28, 28]
/// ```
public struct Dataset: Sendable, Hashable {
    /// All samples, `[count] + sampleShape`, row-major.
    public internal(set) var features: Tensor
    /// The class of each sample, in `0..<classCount`.
    public internal(set) var labels: [Int32]
    /// The number of classes.
    public internal(set) var classCount: Int

    /// Creates a dataset.
    ///
    /// - Precondition: `features.shape[0] == labels.count`, and every label is in `0..<classCount`.
    public init(features: Tensor, labels: [Int32], classCount: Int) {
        precondition(features.rank >= 1 && features.shape[0] == labels.count,
                     "features \(features.shape) do not match \(labels.count) labels")
        precondition(classCount >= 1 && labels.allSatisfy { $0 >= 0 && Int($0) < classCount },
                     "labels must be in 0..<\(classCount)")
        self.features = features
        self.labels = labels
        self.classCount = classCount
    }

    /// The number of samples.
    public var count: Int { labels.count }

    /// The shape of one sample (without the batch dimension).
    public var sampleShape: [Int] { Array(features.shape.dropFirst()) }

    /// The number of scalars in one sample.
    public var sampleSize: Int { features.shape.dropFirst().reduce(1, *) }

    /// How many samples each class has (`result[c]` for class `c`).
    public func labelCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels { counts[Int(label)] += 1 }
        return counts
    }

    /// The samples at `indices`, in that order, as a new dataset with the same classes.
    ///
    /// - Precondition: every index is in `0..<count`.
    public func subset(_ indices: [Int]) -> Dataset {
        let (x, y) = batch(indices[...])
        return Dataset(features: x, labels: y, classCount: classCount)
    }

    /// Gathers the samples at `indices` into a batch `([indices.count] + sampleShape, labels)`.
    ///
    /// - Precondition: every index is in `0..<count`.
    /// - Complexity: O(`indices.count * sampleSize`), one allocation per result.
    public func batch(_ indices: ArraySlice<Int>) -> (Tensor, [Int32]) {
        var x = Tensor(zeros: [0] + sampleShape)
        var y: [Int32] = []
        batch(indices, into: &x, labels: &y)
        return (x, y)
    }

    /// The samples in `range`, in order: the dataset's own storage when the
    /// range is all of it (no copy), else one contiguous copy.
    ///
    /// - Precondition: `range` is within `0..<count`.
    public func batch(range: Range<Int>) -> (Tensor, [Int32]) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "sample range \(range) out of 0..<\(count)")
        if range == 0..<count { return (features, labels) }
        let size = sampleSize
        let scalars = Array(features.scalars[range.lowerBound * size..<range.upperBound * size])
        return (Tensor(shape: [range.count] + sampleShape, scalars: scalars), Array(labels[range]))
    }

    /// Gathers the samples at `indices` into `features` and `labels`, reusing their storage.
    ///
    /// The training loop calls this for every mini-batch; with buffers of the right size
    /// it allocates nothing.
    /// - Precondition: every index is in `0..<count`.
    public func batch(_ indices: ArraySlice<Int>, into batchFeatures: inout Tensor, labels batchLabels: inout [Int32]) {
        let size = sampleSize
        let n = indices.count
        let total = self.count
        let shape = [n] + sampleShape
        if batchFeatures.count != n * size {
            batchFeatures = Tensor(zeros: shape)
        } else if batchFeatures.shape != shape {
            batchFeatures.reshape(shape)
        }
        if batchLabels.count != n { batchLabels = [Int32](repeating: 0, count: n) }
        labels.withUnsafeBufferPointer { labelSource in
            batchLabels.withUnsafeMutableBufferPointer { labelOut in
                for (slot, index) in indices.enumerated() {
                    precondition(index >= 0 && index < total, "sample index \(index) out of range 0..<\(total)")
                    labelOut[slot] = labelSource[index]
                }
            }
        }
        guard size > 0, n > 0 else { return }
        features.withUnsafeBufferPointer { source in
            batchFeatures.withUnsafeMutableBufferPointer { out in
                guard let from = source.baseAddress, var to = out.baseAddress else { return }
                for index in indices {
                    to.update(from: from + index * size, count: size)
                    to += size
                }
            }
        }
    }
}
