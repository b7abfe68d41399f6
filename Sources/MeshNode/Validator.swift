public import Foundation
public import Libp2p
public import Logging
import MeshNN
import MeshStorage
import MeshTensor

/// The validator role: serves `/meshfl/verify/1.0.0`, re-executing tasks in
/// a requester's place. It checks that the request is signed by the job's
/// requester (and arrives over that requester's own connection), that the
/// receipt is signed by the trainer it names and is for the task asked about,
/// downloads the round's weights and the shard from the requester's presigned
/// URLs, re-runs the task with ``TaskExecution`` — the code path of the
/// requester's own re-execution — and answers with a ``ValidatorVerdict`` it
/// signs. A validator keeps no state: it holds no stake and pays nothing.
///
/// ```swift
/// let validator = Validator(host: host, identity: key, logger: logger)
/// await validator.start()
/// ```
public actor Validator {
    public static let verifyProtocol = "/meshfl/verify/1.0.0"

    /// What one validator accepts and spends.
    public struct Limits: Sendable {
        /// Largest request or response on the wire (a request carries a spec and a receipt).
        public var maxMessageSize = 4 << 20
        /// Largest download (the global weights, the shard).
        public var maxDownloadBytes = 256 << 20
        /// Limit on one exchange: download, re-execution and answer.
        public var timeout: Duration = .seconds(300)
        /// Re-executions at once; requests beyond are answered `busy`.
        public var maxConcurrent = 1

        public init() {}
    }

    let host: Libp2p.Host
    let identity: PrivateKey
    let limits: Limits
    let logger: Logger
    let now: @Sendable () -> Double
    var running = 0
    /// Answered requests, for logs and tests.
    public private(set) var served = 0

    public init(host: Libp2p.Host, identity: PrivateKey, limits: Limits = Limits(), logger: Logger,
                now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.host = host
        self.identity = identity
        self.limits = limits
        self.logger = logger
        self.now = now
    }

    /// Serves the verify protocol on the host.
    public func start() async {
        let helper = RequestResponse(protocolID: Self.verifyProtocol, maxMessageSize: limits.maxMessageSize, timeout: limits.timeout)
        await helper.serve(on: host) { [weak self] bytes, peer in
            guard let self else { return [] }
            return Array(try CanonicalJSON.encode(await self.handle(bytes, from: peer)))
        }
    }

    func handle(_ bytes: [UInt8], from peer: PeerID) async -> VerifyResponse {
        let checked: Checked
        do {
            let signed: SignedMessage<VerifyRequest>
            do { signed = try JSONDecoder().decode(SignedMessage<VerifyRequest>.self, from: Data(bytes)) } catch {
                throw NodeError(.malformed, "the request from \(peer) is not a signed verify request: \(error)")
            }
            checked = try check(signed, from: peer)
        } catch {
            let reason = (error as? NodeError)?.message ?? "\(error)"
            logger.warning("verify request refused", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
            return .refused(reason: reason)
        }
        guard running < limits.maxConcurrent else {
            return .busy(reason: "validator \(identity.peerID) is already re-executing \(running) task(s) (limit \(limits.maxConcurrent)); ask another validator or re-execute locally")
        }
        running += 1
        defer { running -= 1 }
        do {
            let verdict = try await reexecute(checked)
            served += 1
            logger.info("task re-executed", metadata: ["job": "\(verdict.job)", "task": "\(JobSpec.taskID(round: verdict.round, shard: verdict.shard))",
                                                       "trainer": "\(verdict.trainer)", "matches": "\(verdict.matches)",
                                                       "seconds": "\(String(format: "%.2f", verdict.seconds))"])
            return .verdict(try SignedMessage(signing: verdict, with: identity))
        } catch {
            let reason = (error as? NodeError)?.message ?? "\(error)"
            logger.warning("re-execution failed", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
            return .refused(reason: reason)
        }
    }

    /// A request whose signatures and fields have been checked.
    struct Checked: Sendable {
        var request: VerifyRequest
        var spec: JobSpec
        var receipt: Receipt
        var receiptDigest: String
    }

    /// Checks who asks and what for, before anything is downloaded.
    ///
    /// - Throws: ``NodeError`` `.badSignature` when the request is not signed
    ///   by the job's requester or the receipt not by its trainer;
    ///   `.refused` for an expired request, one meant for another validator,
    ///   or a receipt that is not for the task asked about.
    func check(_ signed: SignedMessage<VerifyRequest>, from peer: PeerID) throws -> Checked {
        let request = try signed.verified()
        let spec = try JobSpec.verifiedAnnouncement(request.job)
        guard signed.signer == spec.requester else {
            throw NodeError(.badSignature, "verify request for job \(spec.id) is signed by \(signed.signer), but the job's requester is "
                + "\(spec.requester); only a job's requester may ask for its tasks to be re-executed")
        }
        guard peer.description == signed.signer else {
            throw NodeError(.refused, "verify request signed by \(signed.signer) arrived from \(peer); a requester asks over its own connection")
        }
        guard request.validator == identity.peerID.description else {
            throw NodeError(.refused, "verify request is addressed to validator \(request.validator), not \(identity.peerID)")
        }
        guard request.expires >= now() else {
            throw NodeError(.refused, "verify request for job \(spec.id) expired at \(request.expires); send a fresh one")
        }
        guard (0..<spec.rounds).contains(request.round), (0..<spec.shards).contains(request.shard) else {
            throw NodeError(.refused, "task r\(request.round)-s\(request.shard) is outside job \(spec.id) (\(spec.rounds) rounds, \(spec.shards) shards)")
        }
        guard request.seed == TaskExecution.seed(job: spec, round: request.round, shard: request.shard) else {
            throw NodeError(.refused, "seed \(request.seed) is not task r\(request.round)-s\(request.shard)'s seed in job \(spec.id)")
        }
        let receipt = try request.receipt.verified()
        guard request.receipt.signer == receipt.trainer else {
            throw NodeError(.badSignature, "receipt for trainer \(receipt.trainer) is signed by \(request.receipt.signer)")
        }
        guard receipt.job == spec.id, receipt.round == request.round, receipt.shard == request.shard else {
            throw NodeError(.refused, "receipt is for \(receipt.job) r\(receipt.round)-s\(receipt.shard), the request for \(spec.id) r\(request.round)-s\(request.shard)")
        }
        return Checked(request: request, spec: spec, receipt: receipt, receiptDigest: Weights.sha256Hex(request.receipt.payload))
    }

    /// Downloads the task's inputs, runs it and compares transcripts.
    func reexecute(_ checked: Checked) async throws -> ValidatorVerdict {
        let spec = checked.spec
        let request = checked.request
        let timeoutSeconds = max(1, Int64(limits.timeout / .seconds(1)))
        let global: [String: Tensor]
        let shard: Dataset
        do {
            global = try Weights.decode(try await PresignedTransfer.download(request.weightsURL, timeoutSeconds: timeoutSeconds,
                                                                              maxBytes: limits.maxDownloadBytes),
                                        source: "global weights of \(spec.id) round \(request.round)")
            shard = try ShardFile.decode(try await PresignedTransfer.download(request.shardURL, timeoutSeconds: timeoutSeconds,
                                                                               maxBytes: limits.maxDownloadBytes),
                                         source: "shard \(request.shard) of \(spec.id)")
        } catch let error as NodeError {
            throw error
        } catch {
            throw NodeError(.refused, "cannot fetch the inputs of \(spec.id) r\(request.round)-s\(request.shard) from the requester's URLs: \(error)")
        }
        guard shard.count == spec.shardSizes[request.shard] else {
            throw NodeError(.refused, "shard \(request.shard) of \(spec.id) has \(shard.count) samples; the job says \(spec.shardSizes[request.shard])")
        }
        do { _ = try Sequential(spec: spec.model, seed: 0, weights: global, source: "global weights") } catch {
            throw NodeError(.refused, "the global weights of \(spec.id) round \(request.round) do not fit the job's model: \(error)")
        }
        let started = ContinuousClock.now
        let seed = request.seed
        let output = try await Compute.run { try TaskExecution.run(job: spec, start: global, shard: shard, seed: seed) }
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        let mismatch = ValidatorVerdict.firstMismatch(output.transcript, checked.receipt.transcript)
        return ValidatorVerdict(job: spec.id, round: request.round, shard: request.shard, lease: checked.receipt.lease,
                                trainer: checked.receipt.trainer, receiptDigest: checked.receiptDigest,
                                validator: identity.peerID.description, transcript: output.transcript,
                                weightsDigest: output.transcript.last ?? "", matches: mismatch == nil, firstMismatch: mismatch,
                                seconds: seconds)
    }
}
