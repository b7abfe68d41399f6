import Crypto
import Foundation
import Logging
import MeshLedger
import MeshLearning
import MeshNN
import MeshStorage
import MeshTensor

/// The round a requester is collecting, in memory: its global weights, the
/// validation loss they score on the plausibility probe, and the updates
/// accepted so far. Everything in it is also on disk (blob store and
/// node.sqlite); after a restart it is rebuilt from there.
struct RoundState: Sendable {
    var round: Int
    var global: [String: Tensor]
    /// The global weights' loss on ``Requester/probe(_:)`` (computed once per round).
    var probeLoss: Float?
    /// Accepted updates by shard.
    var updates: [Int: [String: Tensor]] = [:]
}

extension Requester {
    /// Validation samples the plausibility check scores each result on.
    static let probeSize = 512

    /// The state of `id`'s current round, loaded from storage when this node has not held it yet.
    func roundState(_ id: String) async throws -> RoundState {
        guard let record = jobs[id] else { throw NodeError(.storage, "job \(id) is not running here") }
        let round = record.board.round
        if let state = roundStates[id], state.round == round { return state }
        let global = try Weights.decode(try await globalWeightsData(id, round: round), source: "global weights of \(id) round \(round)")
        var state = RoundState(round: round, global: global)
        for update in try store.updates(job: id, round: round) {
            var bytes = try store.updateWeights(job: id, round: round, shard: update.shard)
            if bytes == nil { bytes = try await blobs.get(key: update.weightsKey) }
            state.updates[update.shard] = try Weights.decode(bytes!, source: "update r\(round)-s\(update.shard) of \(id)")
        }
        // Another request may have loaded it during the awaits; keep whichever has more.
        if let current = roundStates[id], current.round == round, current.updates.count >= state.updates.count { return current }
        roundStates[id] = state
        return state
    }

    /// The bytes of a round's global weights: node.sqlite's copy (every round
    /// after the first), else the blob store's.
    func globalWeightsData(_ id: String, round: Int) async throws -> Data {
        if round > 0, let stored = try store.globalWeights(job: id, round: round) { return stored }
        return try await blobs.get(key: JobSubmission.Keys.global(id, round: round))
    }

    /// A job's validation split (read when the job is adopted, before any lease).
    func validationData(_ id: String) throws -> Dataset {
        guard let data = validation[id] else { throw NodeError(.storage, "the validation split of \(id) is not loaded") }
        return data
    }

    /// The first ``probeSize`` validation samples of a job.
    func probe(_ id: String) throws -> Dataset {
        if let probe = probes[id] { return probe }
        let data = try validationData(id)
        let probe = data.subset(Array(0..<min(Self.probeSize, data.count)))
        probes[id] = probe
        return probe
    }

    /// The loss of `weights` on the job's probe, off the actor; nil when they do not fit the model.
    func probeLoss(_ weights: [String: Tensor], spec: JobSpec) async throws -> Float? {
        let probe = try probe(spec.id)
        return try await Compute.run {
            guard let model = try? Sequential(spec: spec.model, seed: 0, weights: weights) else { return nil }
            return Evaluation(model: model, data: probe).loss
        }
    }

    /// The global weights' probe loss for the current round (computed once).
    func globalProbeLoss(_ id: String, spec: JobSpec) async throws -> Float? {
        let state = try await roundState(id)
        if let loss = state.probeLoss { return loss }
        let loss = try await probeLoss(state.global, spec: spec)
        if var current = roundStates[id], current.round == state.round {
            current.probeLoss = loss
            roundStates[id] = current
        }
        return loss
    }

    /// Keeps an accepted update for aggregation.
    func remember(update weights: [String: Tensor], job id: String, round: Int, shard: Int) {
        guard var state = roundStates[id], state.round == round else { return }
        state.updates[shard] = weights
        roundStates[id] = state
    }

    /// ``finishRound(_:)`` where no caller waits for it; a failure is logged and the maintenance loop retries.
    func finishRoundLogged(_ id: String) async {
        do { try await finishRound(id) } catch {
            logger.error("finishing the round of \(id) failed: \(error); will retry", metadata: ["job": "\(id)"])
        }
    }

    /// Aggregates a complete round, publishes the next global weights, opens
    /// the next round, and only then evaluates the finished one (trainers
    /// train while the requester scores). The last round is evaluated before
    /// the job is marked done, so a done job has every round's accuracy.
    func finishRound(_ id: String) async throws {
        guard let record = jobs[id], record.board.isRoundComplete, !aggregating.contains(id) else { return }
        logger.debug("aggregating", metadata: ["job": "\(id)", "round": "\(record.board.round)"])
        aggregating.insert(id)
        var aggregatingHere = true
        defer { if aggregatingHere { aggregating.remove(id) } }
        let spec = record.spec
        let round = record.board.round
        let state = try await roundState(id)
        var updates: [ClientUpdate] = []
        for update in try store.updates(job: id, round: round) {
            guard let weights = state.updates[update.shard] else {
                throw NodeError(.storage, "update r\(round)-s\(update.shard) of \(id) is accepted but its weights are not loaded")
            }
            updates.append(ClientUpdate(client: update.trainer, weights: weights, sampleCount: update.samples))
        }
        let next = try strategy.aggregate(global: state.global, updates: updates)
        let data = Weights.encode(next)

        let last = round + 1 >= spec.rounds
        if last {
            _ = try await blobs.put(key: JobSubmission.Keys.final(id), data: data, contentType: nil)
            _ = try await blobs.put(key: JobSubmission.Keys.sealedFinal(id), data: try Sealer.seal(data, to: sealingKey.publicKey), contentType: nil)
        } else {
            // Not on disk when it can be helped: node.sqlite gets the same bytes in the transaction that opens the
            // round, and restoreGlobalWeights puts them back after a restart.
            let key = JobSubmission.Keys.global(id, round: round + 1)
            if let local = blobs as? LocalBlobStore, try local.stage(key: key, data: data, contentType: nil) != nil {
                // Served from memory.
            } else {
                _ = try await blobs.put(key: key, data: data, contentType: nil, durability: .buffered)
            }
        }
        // The board as it is now (other requests ran during the awaits above).
        guard var current = jobs[id], current.board.round == round, current.board.isRoundComplete else { return }
        let finished = Date()
        let started = roundStarted.removeValue(forKey: id)
        let slowest = slowestTraining.removeValue(forKey: id)
        current.board.advance()
        var evaluation: (accuracy: Double, loss: Double)?
        if last {
            evaluation = try await evaluate(next, spec: spec)
            try store.finishRound(job: id, round: round, accuracy: evaluation!.accuracy, loss: evaluation!.loss, board: current.board,
                                  started: started, slowestTraining: slowest)
            jobs[id] = current
        } else {
            try store.advanceRound(job: id, board: current.board, global: data)
            jobs[id] = current
            // The weights of the round before the one just finished are read by nobody now (node.sqlite keeps them).
            if round >= 1 { dropLocalObject(JobSubmission.Keys.global(id, round: round - 1)) }
            roundStates[id] = RoundState(round: round + 1, global: next)
            aggregating.remove(id)
            aggregatingHere = false
            notifyWaiters()
            evaluation = try await evaluate(next, spec: spec)
            try store.recordRound(job: id, round: round, accuracy: evaluation!.accuracy, loss: evaluation!.loss,
                                  started: started, slowestTraining: slowest, finished: finished)
        }
        let accuracy = evaluation!.accuracy
        metrics.add(.roundsFinished, 1, ["job": id])
        metrics.set(.roundAccuracy, accuracy, ["job": id])
        if let started, let slowest {
            metrics.set(.roundOverheadSeconds, finished.timeIntervalSince(started) - slowest, ["job": id])
        }
        try audit(spec, "round_finished", ["job": .string(id), "round": .int(Int64(round)),
                                                        "accuracy": .double(accuracy), "updates": .int(Int64(updates.count)),
                                                        "digest": .string(Weights.sha256Hex(data))])
        logger.info("round finished", metadata: ["job": "\(id)", "round": "\(round + 1)/\(spec.rounds)",
                                                 "accuracy": "\(String(format: "%.4f", accuracy))"])
        if last {
            roundStates[id] = nil
            try await finishJob(id)
        }
    }

    /// Settles a job whose last round is recorded: refunds what the escrow
    /// has left, waits until every audit event is on the ledger, and only then
    /// marks the job done (a crash anywhere before repeats what is missing).
    func finishJob(_ id: String) async throws {
        guard let spec = jobs[id]?.spec, jobs[id]?.status != .done, !finishing.contains(id) else { return }
        finishing.insert(id)
        defer { finishing.remove(id) }
        // Every accepted update is paid before the rest of the escrow goes back.
        try await payOutstanding(id)
        if let escrow = try await ledger.escrow(job: id), escrow.isOpen {
            try await ledger.refundEscrow(job: id, owner: account)
            try audit(spec, "job_finished", ["job": .string(id), "refunded": .int(escrow.available)])
        }
        try await flushAudit()
        try store.markDone(job: id)
        jobs[id]?.status = .done
        logger.info("job done", metadata: ["job": "\(id)"])
    }

    /// Accuracy and loss of `weights` on the job's validation split, off the actor.
    func evaluate(_ weights: [String: Tensor], spec: JobSpec) async throws -> (accuracy: Double, loss: Double) {
        let data = try validationData(spec.id)
        return try await Compute.run {
            let model = try Sequential(spec: spec.model, seed: spec.seed, weights: weights, source: "aggregated weights")
            let evaluation = Evaluation(model: model, data: data)
            return (evaluation.accuracy, Double(evaluation.loss))
        }
    }

    /// After a restart: puts the current round's global weights back in the
    /// blob store when the buffered write of them did not survive (power
    /// loss), from the copy node.sqlite took when the round opened.
    func restoreGlobalWeights(_ id: String) async throws {
        guard let record = jobs[id], record.board.round > 0, !record.board.isFinished else { return }
        let round = record.board.round
        let key = JobSubmission.Keys.global(id, round: round)
        if (try? await blobs.get(key: key)) != nil { return }
        guard let data = try store.globalWeights(job: id, round: round) else {
            throw NodeError(.storage, "the global weights of \(id) round \(round) are missing from the blob store and node.sqlite; the job cannot go on")
        }
        _ = try await blobs.put(key: key, data: data, contentType: nil, durability: .synced)
        logger.notice("restored the round's global weights from node.sqlite", metadata: ["job": "\(id)", "round": "\(round + 1)"])
    }

    /// After a restart: rounds whose board advanced but whose evaluation was
    /// not recorded (the crash fell between the two) are evaluated from the
    /// weights they produced.
    func recordMissingRounds(_ id: String) async throws {
        guard let record = jobs[id] else { return }
        let recorded = Set(try store.rounds(job: id).map(\.round))
        for round in 0..<record.board.round where !recorded.contains(round) {
            let bytes = round + 1 < record.spec.rounds
                ? try await globalWeightsData(id, round: round + 1)
                : try await blobs.get(key: JobSubmission.Keys.final(id))
            let weights = try Weights.decode(bytes, source: "weights after round \(round) of \(id)")
            let evaluation = try await evaluate(weights, spec: record.spec)
            try store.recordRound(job: id, round: round, accuracy: evaluation.accuracy, loss: evaluation.loss, started: nil, slowestTraining: nil)
            logger.info("recorded the evaluation a restart interrupted", metadata: ["job": "\(id)", "round": "\(round + 1)"])
        }
    }
}
