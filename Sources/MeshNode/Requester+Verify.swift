import Foundation
import MeshLearning
import MeshNN
import MeshStorage
import MeshTensor

/// What verification decided about one result.
enum ResultVerdict: Sendable {
    /// Accepted: the weights (decoded, and as the plaintext safetensors bytes to store);
    /// `verifiedBy` is the validator's peer id when one re-executed the task, else `requester`.
    case accept(weights: [String: Tensor], plain: Data, reexecuted: Bool, verifiedBy: String)
    /// Refused without proof of fraud (missing upload, bad hash, NaN, wrong shapes, implausible loss).
    case reject(String)
    /// Re-execution of the task gave other weights: the signed receipt is the proof
    /// (with the validator's signed verdict when a validator found it first).
    case fraud(String, recomputed: String, verifiedBy: String, validatorVerdict: SignedMessage<ValidatorVerdict>?)
}

extension Requester {
    /// Weights agree with a re-execution when every element is within this of it:
    /// bitwise equality is expected on one CPU and thread count (docs/determinism.md),
    /// the tolerance absorbs summation-order differences across BLAS builds.
    static let reexecutionTolerance: Float = 1e-4

    /// Checks a result in order of cost: the upload and its hashes, the
    /// weights' shapes and values, the validation loss, then — for a new
    /// trainer always, else with the job's probability — re-execution, here
    /// or by a validator (Requester+Delegate.swift).
    func verify(_ receipt: Receipt, signed: SignedMessage<Receipt>, spec: JobSpec) async -> ResultVerdict {
        let keys = JobSubmission.Keys.self
        let plain: Data
        let weights: [String: Tensor]
        let global: [String: Tensor]
        do {
            guard let sealed = try? await blobs.get(key: keys.result(spec.id, round: receipt.round, shard: receipt.shard, lease: receipt.lease)) else {
                return .reject("no result was uploaded for lease \(receipt.lease)")
            }
            guard Weights.sha256Hex(sealed) == receipt.sealedDigest else {
                return .reject("the uploaded blob's SHA-256 is not the receipt's sealedDigest")
            }
            guard let opened = try? Sealer.open(sealed, with: sealingKey) else {
                return .reject("the uploaded blob does not open with the job's sealing key")
            }
            plain = opened
            guard Weights.sha256Hex(plain) == receipt.weightsDigest else {
                return .reject("the weights' SHA-256 is not the receipt's weightsDigest")
            }
            guard receipt.transcript.last == receipt.weightsDigest else {
                return .reject("the transcript does not end with the weights' digest")
            }
            guard receipt.sampleCount == spec.shardSizes[receipt.shard] else {
                return .reject("the receipt claims \(receipt.sampleCount) samples; shard \(receipt.shard) has \(spec.shardSizes[receipt.shard])")
            }
            guard let decoded = try? Weights.decode(plain, source: "result") else { return .reject("the result is not safetensors") }
            weights = decoded
            let state = try await roundState(spec.id)
            guard state.round == receipt.round else { return .reject("round \(receipt.round) is over") }
            global = state.global
        } catch {
            return .reject("the requester could not read its own state: \(error)")
        }
        guard Set(weights.keys) == Set(global.keys), global.allSatisfy({ weights[$0.key]?.shape == $0.value.shape }) else {
            return .reject("the weights' names or shapes differ from the model's")
        }
        guard weights.values.allSatisfy({ $0.scalars.allSatisfy(\.isFinite) }) else {
            return .reject("the weights contain NaN or infinite values")
        }
        // The round's starting loss on the probe is computed once per round; each result costs one evaluation.
        let before: Float?, after: Float?
        do {
            before = try await globalProbeLoss(spec.id, spec: spec)
            after = try await probeLoss(weights, spec: spec)
        } catch {
            return .reject("the requester could not read its own state: \(error)")
        }
        guard let before, let after, after.isFinite, after <= max(before * 1.5, before + 0.5) else { return .reject("validation loss is non-finite or far above the round's starting loss") }

        let reexecute = (acceptedBy[receipt.trainer] ?? 0) < 2 || Double.random(in: 0..<1) < spec.reexecutionProbability
        var verifiedBy = "requester"
        if reexecute {
            switch await reexecution(receipt, signed: signed, spec: spec, global: global, claimed: weights) {
            case .agrees(let by):
                verifiedBy = by
            case .differs(let reason, let recomputed, let by, let validatorVerdict):
                return .fraud(reason, recomputed: recomputed, verifiedBy: by, validatorVerdict: validatorVerdict)
            case .failed(let reason):
                return .reject(reason)
            }
        }
        return .accept(weights: weights, plain: plain, reexecuted: reexecute, verifiedBy: verifiedBy)
    }
}

/// What re-executing a task found.
enum ReexecutionOutcome: Sendable {
    /// The recomputed weights are the claimed ones (or within tolerance).
    case agrees(verifiedBy: String)
    /// They are not: proven fraud.
    case differs(reason: String, recomputed: String, verifiedBy: String, validatorVerdict: SignedMessage<ValidatorVerdict>?)
    /// Re-execution could not be done (the requester's own state is unreadable).
    case failed(String)
}

extension Requester {
    /// Re-executes the task here and compares with the claimed weights: equal
    /// digests agree, else every element must be within ``reexecutionTolerance``.
    func reexecuteLocally(_ receipt: Receipt, spec: JobSpec, global: [String: Tensor], claimed: [String: Tensor]) async -> ReexecutionOutcome {
        let shardData: Dataset
        do {
            shardData = try ShardFile.decode(try await blobs.get(key: JobSubmission.Keys.shard(spec.id, receipt.shard)), source: "shard \(receipt.shard)")
        } catch {
            return .failed("the requester could not read shard \(receipt.shard): \(error)")
        }
        let seed = TaskExecution.seed(job: spec, round: receipt.round, shard: receipt.shard)
        let recomputed: TaskOutput
        do {
            recomputed = try await Compute.run { try TaskExecution.run(job: spec, start: global, shard: shardData, seed: seed) }
        } catch {
            return .failed("re-execution failed on the requester: \(error)")
        }
        let recomputedDigest = recomputed.transcript.last ?? ""
        if recomputedDigest != receipt.weightsDigest {
            var worst: Float = 0
            for (name, tensor) in recomputed.weights {
                let values = claimed[name]!.scalars
                for (index, value) in tensor.scalars.enumerated() { worst = max(worst, abs(value - values[index])) }
            }
            if worst > Self.reexecutionTolerance {
                return .differs(reason: String(format: "re-execution differs by up to %.3g (tolerance %.0e): the weights were not produced by the task's recipe",
                                               worst, Self.reexecutionTolerance),
                                recomputed: recomputedDigest, verifiedBy: "requester", validatorVerdict: nil)
            }
        }
        return .agrees(verifiedBy: "requester")
    }
}
