public import Foundation
public import MeshNN
public import MeshTensor

/// The whole state of a training run after some optimizer step: weights,
/// optimizer buffers and step count, and the dropout generators. From it the
/// run continues bit for bit (``LocalTraining/resume(_:from:to:)``).
///
/// It is stored and hashed as safetensors: weights as `model.<name>`,
/// optimizer buffers as `optimizer.<name>.<buffer>`, and `__metadata__` with
/// `format` (`meshfl.checkpoint/1`), `step`, `optimizer_steps` and `dropout`
/// (each generator's four state words in hex, `;`-separated). A transcript
/// entry is the SHA-256 of these bytes (``digest``), so a checkpoint handed
/// over later is checked against the transcript before it is used.
public struct TrainingCheckpoint: Sendable, Hashable {
    /// Optimizer steps taken so far in the task (0 = the start).
    public var step: Int
    /// The weights by `state_dict` name.
    public var weights: [String: Tensor]
    /// The optimizer's step count and buffers.
    public var optimizer: OptimizerState
    /// The dropout layers' generators, in layer order.
    public var dropoutGenerators: [SeededGenerator]

    /// The format name in the metadata.
    public static let formatIdentifier = "meshfl.checkpoint/1"

    /// Creates a checkpoint.
    public init(step: Int, weights: [String: Tensor], optimizer: OptimizerState, dropoutGenerators: [SeededGenerator]) {
        self.step = step
        self.weights = weights
        self.optimizer = optimizer
        self.dropoutGenerators = dropoutGenerators
    }

    /// The canonical safetensors bytes (what ``digest`` hashes).
    public func serialized() -> Data {
        var tensors: [String: Tensor] = [:]
        for (name, tensor) in weights { tensors["model." + name] = tensor }
        for (name, tensor) in optimizer.buffers { tensors["optimizer." + name] = tensor }
        let dropout = dropoutGenerators.map { $0.state.map { Self.hex16($0) }.joined(separator: ",") }.joined(separator: ";")
        let metadata = ["format": Self.formatIdentifier, "step": String(step),
                        "optimizer_steps": String(optimizer.stepCount), "dropout": dropout]
        return SafeTensors(tensors, metadata: metadata).serialized()
    }

    /// SHA-256 of ``serialized()``: the transcript entry for this state.
    public var digest: WeightsDigest { WeightsDigest(hashing: serialized()) }

    /// Reads a checkpoint written by ``serialized()``; `source` names it in errors.
    ///
    /// - Throws: ``VerificationError`` `.malformed` naming the field that is wrong.
    public init(data: Data, source: String = "checkpoint") throws {
        let file: SafeTensors
        do {
            file = try SafeTensors(data: data, source: source)
        } catch {
            throw VerificationError(.malformed, "\(source): not a safetensors checkpoint", cause: error)
        }
        func fail(_ message: String) -> VerificationError { VerificationError(.malformed, "\(source): \(message)") }
        guard file.metadata["format"] == Self.formatIdentifier else {
            throw fail("metadata format is \(file.metadata["format"].map { "\"\($0)\"" } ?? "missing"), "
                + "expected \"\(Self.formatIdentifier)\"; is this a training checkpoint?")
        }
        guard let step = file.metadata["step"].flatMap(Int.init), step >= 0 else {
            throw fail("metadata step is missing or not a non-negative integer")
        }
        guard let optimizerSteps = file.metadata["optimizer_steps"].flatMap(Int.init), optimizerSteps >= 0 else {
            throw fail("metadata optimizer_steps is missing or not a non-negative integer")
        }
        var generators: [SeededGenerator] = []
        let dropout = file.metadata["dropout"] ?? ""
        for (index, entry) in dropout.split(separator: ";", omittingEmptySubsequences: false).enumerated() where !dropout.isEmpty {
            let words = entry.split(separator: ",").compactMap { UInt64($0, radix: 16) }
            guard words.count == 4, words.contains(where: { $0 != 0 }) else {
                throw fail("dropout generator \(index) is not four hex words (not all zero)")
            }
            generators.append(SeededGenerator(state: words))
        }
        var weights: [String: Tensor] = [:]
        var buffers: [String: Tensor] = [:]
        for (name, tensor) in file.tensors {
            if name.hasPrefix("model.") {
                weights[String(name.dropFirst(6))] = tensor
            } else if name.hasPrefix("optimizer.") {
                buffers[String(name.dropFirst(10))] = tensor
            } else {
                throw fail("tensor \"\(name)\" is neither model.* nor optimizer.*")
            }
        }
        self.init(step: step, weights: weights, optimizer: OptimizerState(stepCount: optimizerSteps, buffers: buffers),
                  dropoutGenerators: generators)
    }

    static func hex16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
