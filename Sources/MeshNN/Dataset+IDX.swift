public import Foundation
import MeshTensor

extension Dataset {
    /// A split of a dataset that ships as separate train and test files.
    public enum Split: String, Sendable, Hashable, CaseIterable {
        /// The training set (Fashion-MNIST: 60,000 samples).
        case train
        /// The test set (Fashion-MNIST: 10,000 samples).
        case test
    }

    /// Where Debian's `dataset-fashion-mnist` package installs the files.
    public static let defaultFashionMNISTDirectory = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")

    /// Loads Fashion-MNIST: features `[n, 1, 28, 28]` scaled to [0, 1] (`byte / 255`), 10 classes.
    ///
    /// Reads `train-images-idx3-ubyte.gz` / `t10k-images-idx3-ubyte.gz` and the matching
    /// label files (gzip or raw — `.gz` names are tried first, then the names without it).
    /// Standardize afterwards if wanted: `data.standardize(.fashionMNIST)`.
    /// - Throws: ``FormatError`` `.io` naming the missing file and the package to install.
    public static func fashionMNIST(split: Split, directory: URL = defaultFashionMNISTDirectory) throws -> Dataset {
        let prefix = split == .train ? "train" : "t10k"
        func locate(_ name: String) throws -> URL {
            for candidate in [name + ".gz", name] {
                let url = directory.appendingPathComponent(candidate)
                if FileManager.default.fileExists(atPath: url.path) { return url }
            }
            throw FormatError(.io, "\(directory.appendingPathComponent(name + ".gz").path): not found; "
                + "install Debian's dataset-fashion-mnist (scripts/setup does) or pass the directory holding the files")
        }
        let dataset = try idx(images: try locate("\(prefix)-images-idx3-ubyte"),
                              labels: try locate("\(prefix)-labels-idx1-ubyte"),
                              sampleShape: [1, 28, 28], classCount: 10)
        return dataset
    }

    /// Loads an images file and a labels file in IDX format (raw or gzip).
    ///
    /// `uint8` features are scaled to [0, 1] (`byte / 255`); other types are kept as stored.
    /// - Parameters:
    ///   - sampleShape: the per-sample shape; defaults to the image file's dimensions after the first
    ///     (e.g. `[28, 28]`; pass `[1, 28, 28]` for a convolutional model).
    ///   - classCount: the number of classes; defaults to the largest label + 1.
    /// - Throws: ``FormatError`` naming the file: missing, truncated, corrupt, or mismatched counts.
    public static func idx(images: URL, labels: URL, sampleShape: [Int]? = nil, classCount: Int? = nil) throws -> Dataset {
        let imageFile = try IDXFile(contentsOf: images)
        let labelFile = try IDXFile(contentsOf: labels)
        let labelValues = try labelFile.integers(source: labels.path)
        guard labelFile.shape.count == 1 else {
            throw FormatError(.malformed, "\(labels.path): labels must be one-dimensional, got shape \(labelFile.shape); "
                + "did you swap the images and labels files?")
        }
        let n = imageFile.shape[0]
        guard n == labelValues.count else {
            throw FormatError(.malformed, "\(images.path) holds \(n) samples but \(labels.path) holds \(labelValues.count) labels; "
                + "use the matching pair of files")
        }
        let stored = Array(imageFile.shape.dropFirst())
        let shape = sampleShape ?? (stored.isEmpty ? [1] : stored)
        guard shape.allSatisfy({ $0 > 0 }), shape.reduce(1, *) == stored.reduce(1, *) else {
            throw FormatError(.invalidArgument, "\(images.path): samples of shape \(stored) cannot be viewed as \(shape)")
        }
        let labelsChecked = try checkedLabels(labelValues, classCount: classCount, source: labels.path)
        let divisor: Float = imageFile.dataType == .uint8 ? 255 : 1
        let features = Tensor(shape: [n] + shape, scalars: imageFile.floats(dividingBy: divisor))
        return Dataset(features: features, labels: labelValues, classCount: labelsChecked)
    }

    /// Checks labels are in range and returns the class count to use.
    static func checkedLabels(_ labels: [Int32], classCount: Int?, source: String,
                              lineOf: ((Int) -> String)? = nil) throws -> Int {
        if let classCount, classCount < 1 {
            throw FormatError(.invalidArgument, "\(source): classCount \(classCount) must be positive")
        }
        for (index, label) in labels.enumerated() {
            let limit = classCount.map(Int32.init) ?? Int32.max
            if label < 0 || label >= limit {
                let place = lineOf?(index) ?? "sample \(index)"
                let range = classCount.map { "0..<\($0)" } ?? "0 or more"
                throw FormatError(.malformed, "\(source): \(place): label \(label) is not a class index in \(range)")
            }
        }
        return classCount ?? Int(labels.max() ?? 0) + 1
    }
}
