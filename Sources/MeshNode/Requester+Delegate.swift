public import Libp2p
import Logging
import Foundation
import MeshStorage
import MeshTensor

/// The validators a requester may hand re-execution to, asked in rotation.
struct Delegation: Sendable {
    var validators: [PeerID] = []
    /// Limit on one request to a validator (download, re-execution, answer).
    var timeout: Duration = .seconds(120)
    var next = 0
    /// Validators whose "mismatch" the requester's own re-execution refuted: not asked again.
    var distrusted: Set<PeerID> = []

    /// The validators to try for one task: every trusted one, starting after the last task's first.
    mutating func rotation() -> [PeerID] {
        let trusted = validators.filter { !distrusted.contains($0) }
        guard !trusted.isEmpty else { return [] }
        let start = next % trusted.count
        next += 1
        return Array(trusted[start...] + trusted[..<start])
    }
}

extension Requester {
    /// Hands re-execution to `validators` (`meshfl node --role requester --validator …`):
    /// each task that verification picks for re-execution goes to the next one in
    /// rotation; when none answers within `timeout` with a usable verdict, the
    /// requester re-executes locally. A validator's match is accepted; its
    /// mismatch is confirmed by local re-execution before anyone is slashed.
    public func delegateVerification(to validators: [PeerID], timeout: Duration = .seconds(120)) {
        delegation.validators = validators
        delegation.timeout = timeout
    }

    /// Re-executes a task: through a validator when there are any, else (or
    /// when none gives a usable answer) locally.
    func reexecution(_ receipt: Receipt, signed: SignedMessage<Receipt>, spec: JobSpec, global: [String: Tensor],
                     claimed: [String: Tensor]) async -> ReexecutionOutcome {
        let task = JobSpec.taskID(round: receipt.round, shard: receipt.shard)
        let candidates = delegation.rotation()
        for validator in candidates {
            let verdict: SignedMessage<ValidatorVerdict>
            let found: ValidatorVerdict
            do {
                (verdict, found) = try await ask(validator, about: receipt, signed: signed, spec: spec)
            } catch {
                logger.warning("validator did not verify; trying the next validator or re-executing locally",
                               metadata: ["validator": "\(validator)", "task": "\(task)", "reason": "\(error)"])
                continue
            }
            if found.matches { return .agrees(verifiedBy: validator.description) }
            // A validator's word alone never slashes: confirm the mismatch here first.
            logger.notice("validator reports a mismatch; confirming by local re-execution",
                          metadata: ["validator": "\(validator)", "task": "\(task)", "firstMismatch": "\(found.firstMismatch ?? -1)"])
            switch await reexecuteLocally(receipt, spec: spec, global: global, claimed: claimed) {
            case .differs(let reason, let recomputed, _, _):
                return .differs(reason: "\(reason); validator \(validator) found the first difference at transcript entry \(found.firstMismatch ?? -1)",
                                recomputed: recomputed, verifiedBy: validator.description, validatorVerdict: verdict)
            case .agrees:
                delegation.distrusted.insert(validator)
                logger.warning("validator's mismatch is refuted by local re-execution (it lies, or computes differently); not asking it again",
                               metadata: ["validator": "\(validator)", "task": "\(task)", "trainer": "\(receipt.trainer)"])
                return .agrees(verifiedBy: "requester")
            case .failed(let reason):
                return .failed(reason)
            }
        }
        if !delegation.validators.isEmpty {
            logger.info("re-executing locally", metadata: ["task": "\(task)", "reason": "\(candidates.isEmpty ? "every validator is distrusted" : "no validator gave a usable verdict")"])
        }
        return await reexecuteLocally(receipt, spec: spec, global: global, claimed: claimed)
    }

    /// Sends one signed verify request to `validator` and checks its answer.
    ///
    /// - Throws: ``NodeError`` when the validator is busy, refuses, or
    ///   answers with a verdict that is not signed by it or not about this receipt.
    func ask(_ validator: PeerID, about receipt: Receipt, signed: SignedMessage<Receipt>,
             spec: JobSpec) async throws -> (SignedMessage<ValidatorVerdict>, ValidatorVerdict) {
        guard let job = jobs[spec.id]?.signed else { throw NodeError(.refused, "job \(spec.id) is not running here") }
        let timeout = delegation.timeout
        let seconds = Int(timeout / .seconds(1))
        let keys = JobSubmission.Keys.self
        let request = VerifyRequest(
            job: job, round: receipt.round, shard: receipt.shard,
            seed: TaskExecution.seed(job: spec, round: receipt.round, shard: receipt.shard),
            weightsURL: try blobs.presignedURL(key: keys.global(spec.id, round: receipt.round), method: .get, expires: seconds + 60, contentType: nil).absoluteString,
            shardURL: try blobs.presignedURL(key: keys.shard(spec.id, receipt.shard), method: .get, expires: seconds + 60, contentType: nil).absoluteString,
            receipt: signed, validator: validator.description, expires: now() + Double(seconds) + 30)
        let client = RequestResponse(protocolID: Validator.verifyProtocol, maxMessageSize: 4 << 20, timeout: timeout)
        let bytes = try await client.request(validator, payload: Array(CanonicalJSON.encode(SignedMessage(signing: request, with: identity))), on: host)
        let response: VerifyResponse
        do { response = try JSONDecoder().decode(VerifyResponse.self, from: Data(bytes)) } catch {
            throw NodeError(.malformed, "validator \(validator) answered with something that is not a verify response")
        }
        switch response {
        case .busy(let reason):
            throw NodeError(.refused, "validator \(validator) is busy: \(reason)")
        case .refused(let reason):
            throw NodeError(.refused, "validator \(validator) refused: \(reason)")
        case .verdict(let verdict):
            let found = try verdict.verified()
            try Self.check(found, signer: verdict.signer, from: validator, about: receipt, signed: signed)
            return (verdict, found)
        }
    }

    /// A verdict is usable when its validator signed it, it names this very
    /// receipt, and its `matches` / `firstMismatch` follow from its transcript.
    static func check(_ verdict: ValidatorVerdict, signer: String, from validator: PeerID, about receipt: Receipt,
                      signed: SignedMessage<Receipt>) throws {
        guard signer == validator.description, verdict.validator == signer else {
            throw NodeError(.badSignature, "verdict from \(validator) is signed by \(signer) for validator \(verdict.validator)")
        }
        guard verdict.job == receipt.job, verdict.round == receipt.round, verdict.shard == receipt.shard, verdict.lease == receipt.lease,
              verdict.trainer == receipt.trainer, verdict.receiptDigest == Weights.sha256Hex(signed.payload) else {
            throw NodeError(.refused, "verdict from \(validator) is about another receipt (\(verdict.job) r\(verdict.round)-s\(verdict.shard) lease \(verdict.lease))")
        }
        let mismatch = ValidatorVerdict.firstMismatch(verdict.transcript, receipt.transcript)
        guard !verdict.transcript.isEmpty, verdict.weightsDigest == verdict.transcript.last,
              verdict.matches == (mismatch == nil), verdict.firstMismatch == mismatch else {
            throw NodeError(.malformed, "verdict from \(validator) contradicts its own transcript (matches \(verdict.matches), first mismatch \(verdict.firstMismatch ?? -1))")
        }
    }
}

extension NodeRunner {
    /// The peer ids of `--validator` addresses, connecting to those that answer
    /// (the others are dialled again when a task is handed to them).
    static func validatorPeers(_ addresses: [Multiaddr], on host: Libp2p.Host, logger: Logger) async -> [PeerID] {
        var peers: [PeerID] = []
        for address in addresses {
            do { peers.append(try await host.connect(to: address)) } catch {
                guard case .p2p(let peer)? = address.components.last else {
                    logger.warning("--validator \(address) names no peer id (/p2p/…) and is unreachable: \(error); not using it")
                    continue
                }
                host.peerstore.addAddresses([address], for: peer)
                logger.warning("validator \(address) unreachable at start: \(error); will dial it again when a task is handed to it")
                peers.append(peer)
            }
        }
        return peers
    }
}
