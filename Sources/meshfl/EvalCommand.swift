import ArgumentParser
import Foundation
import MeshNN
import MeshTensor

/// `meshfl eval`: loss, accuracy and confusion matrix of weights on a dataset.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate safetensors weights of a model spec on a dataset (the test split for fashion-mnist)."
    )

    @OptionGroup var common: ModelDataOptions

    @Option(help: ArgumentHelp("Weights to evaluate.", valueName: "W.safetensors"))
    var weights: String

    @Flag(help: "Print the confusion matrix (rows: label, columns: prediction).")
    var confusion = false

    func validate() throws {
        try common.validateCommon()
    }

    func run() async throws {
        BLAS.setThreads(common.threads)
        let spec = try common.loadSpec()
        let model = try Sequential(spec: spec, seed: 0)
        let url = URL(fileURLWithPath: weights)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw UsageError("\(weights): weights file not found; pass --weights with a file written by `meshfl train`")
        }
        do {
            let file = try SafeTensors(contentsOf: url)
            try model.load(file.tensors, source: weights)
        } catch let error as FormatError {
            throw UsageError(error.message)
        }
        let data = try common.loadData(split: .test, spec: spec)
        let evaluation = Evaluation(model: model, data: data)
        print(String(format: "samples %d  loss %.4f  accuracy %.2f%%", evaluation.count, evaluation.loss, evaluation.accuracy * 100))
        if confusion {
            for (label, row) in evaluation.confusion.enumerated() {
                print(String(format: "%3d |", label) + row.map { String(format: "%6d", $0) }.joined())
            }
        }
    }
}
