import ArgumentParser
import Foundation
import MeshNN
import MeshTensor

/// The model, data and compute options shared by `train`, `eval` and `demo`.
struct ModelDataOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Model spec JSON (meshfl.model/1).", valueName: "SPEC"))
    var model: String

    @Option(name: .long, help: ArgumentHelp(
        "`fashion-mnist` (Debian's dataset-fashion-mnist), a directory of IDX files, a .csv file (label first), or a meshfl shard file.",
        valueName: "fashion-mnist|PATH"))
    var data: String = "fashion-mnist"

    @Option(name: .long, help: "BLAS threads (OpenBLAS spins between calls: keep at or below the cores you may use).")
    var threads: Int = 2

    func validateCommon() throws {
        guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be between 1 and 256, got \(threads)") }
    }

    /// Loads and validates the spec, with errors naming the file.
    func loadSpec() throws -> ModelSpec {
        let url = URL(fileURLWithPath: model)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw UsageError("\(model): model spec not found; pass --model with a spec JSON such as examples/mlp.json")
        }
        do { return try ModelSpec(contentsOf: url) } catch let error as FormatError { throw UsageError(error.message) }
    }

    /// Loads the dataset `split` named by `--data`, checked against the spec's input shape.
    func loadData(split: Dataset.Split, spec: ModelSpec) throws -> Dataset {
        var dataset: Dataset
        do {
            dataset = try DataSource.load(data, split: split)
        } catch let error as FormatError {
            throw UsageError(error.message)
        }
        guard dataset.sampleSize == spec.input.reduce(1, *) else {
            throw UsageError("\(data): samples have shape \(dataset.sampleShape) but \(model) expects input \(spec.input); "
                + "use a spec whose \"input\" matches the data")
        }
        if dataset.sampleShape != spec.input { dataset = dataset.reshapedSamples(spec.input) }
        return dataset
    }
}

/// Resolves `--data` values to datasets.
enum DataSource {
    static func load(_ source: String, split: Dataset.Split) throws -> Dataset {
        if source == "fashion-mnist" {
            return try Dataset.fashionMNIST(split: split)
        }
        let url = URL(fileURLWithPath: source)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw FormatError(.io, "\(source): no such file or directory; pass --data fashion-mnist, an IDX directory, a .csv or a shard file")
        }
        if isDirectory.boolValue {
            return try Dataset.fashionMNIST(split: split, directory: url)
        }
        if url.pathExtension.lowercased() == "csv" {
            return try Dataset.csv(contentsOf: url)
        }
        return try ShardFile.read(contentsOf: url)
    }
}

extension Dataset {
    /// The same samples viewed with another per-sample shape of equal size.
    func reshapedSamples(_ sampleShape: [Int]) -> Dataset {
        Dataset(features: features.reshaped([count] + sampleShape), labels: labels, classCount: classCount)
    }
}
