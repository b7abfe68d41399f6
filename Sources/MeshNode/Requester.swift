public import Crypto
public import Foundation
public import Gossipsub
public import Libp2p
public import Logging
public import MeshLedger
public import MeshNN
public import MeshStorage
import MeshLearning
import MeshTensor

/// The requester role: serves `/meshfl/task/1.0.0`, leases tasks, verifies
/// results, pays or slashes on the ledger, aggregates rounds and refunds the
/// rest of the escrow at the end — every step on the job's audit topic and in
/// `node.sqlite`, so a restart resumes where it stopped.
public actor Requester {
    public static let taskProtocol = "/meshfl/task/1.0.0"
    public static let jobsTopic = "/meshfl/jobs/1"

    let host: Libp2p.Host
    let identity: PrivateKey
    let store: RequesterStore
    /// Where job objects live and leases point (local or S3; see ``JobStorage``).
    let blobs: any BlobStore
    /// The data directory's blocks: evidence documents of slashes, by CID.
    let blocks: BlockStore
    /// Job objects' home and the local staging store they are published from (Requester+Publish.swift).
    let storage: JobStorage
    let ledger: any NodeLedger
    let account: LedgerOperator
    let sealingKey: Curve25519.KeyAgreement.PrivateKey
    let pubsub: GossipsubService?
    let logger: Logger
    let metrics: NodeMetrics
    let strategy: any Strategy = FedAvg()
    let now: @Sendable () -> Double

    var jobs: [String: RequesterStore.JobRecord] = [:]
    var validation: [String: Dataset] = [:]
    var acceptedBy: [String: Int] = [:]
    var aggregating: Set<String> = []
    /// Claims parked until a task opens (long polling keeps rounds from waiting on trainers' retry timers).
    var parkedClaims = ParkedCallers()
    /// Per job, the current round's first lease and its slowest reported training (round overhead).
    var roundStarted: [String: Date] = [:]
    var slowestTraining: [String: Double] = [:]
    /// Per job, the current round's weights and accepted updates in memory (Requester+Rounds.swift).
    var roundStates: [String: RoundState] = [:]
    /// Per job, the validation samples each result's plausibility is scored on.
    var probes: [String: Dataset] = [:]
    var loop: Task<Void, Never>?
    /// Validators re-execution may be handed to (Requester+Delegate.swift).
    var delegation = Delegation()
    /// The task sending the audit outbox to the ledger, while it runs (Requester+Audit.swift).
    var auditSender: Task<Void, Never>?
    /// Topics whose first waiting event was checked against the ledger since this node started.
    var auditTopicsChecked: Set<String> = []
    /// How long the audit and payment senders let work gather before they send:
    /// events and accepted results come in bursts, one ledger transaction can carry a burst.
    var linger: Duration = .milliseconds(20)
    /// Set by ``stop()``: no more maintenance, requests or audit sending.
    var stopped = false
    /// Requests being answered and rounds finishing outside the maintenance loop; ``stop()`` waits for them.
    var inFlight = 0
    /// ``stop()``, parked until ``inFlight`` is 0.
    var drainWaiters = ParkedCallers()
    /// The longest ``stop()`` waits for requests still being answered: a re-execution through an
    /// unresponsive validator can take the validator's whole timeout.
    static let stopWait: Duration = .seconds(30)
    /// The answer to requests once ``stop()`` began.
    static let stopping = TaskResponse.wait(seconds: 1, reason: "this requester is stopping")
    /// Jobs whose escrow is being settled (finishJob).
    var finishing: Set<String> = []
    /// Accepted updates whose payment is under way (job/round/shard), so none is sent twice at once.
    var paying: Set<String> = []
    /// Accepted updates queued for the payment sender, and the sender while it runs.
    var unpaid: [RequesterStore.UpdateRecord] = []
    var paymentSender: Task<Void, Never>?
    /// When each trainer account's stake was last read, and what it was.
    var stakeChecks: [String: (at: Double, staked: Int64)] = [:]
    /// How long a stake read stays good for claims.
    static let stakeRecheckSeconds = 5.0

    public init(host: Libp2p.Host, identity: PrivateKey, directory: NodeDirectory, storage: JobStorage, ledger: any NodeLedger,
                account: LedgerOperator, pubsub: GossipsubService?, logger: Logger, metrics: NodeMetrics = NodeMetrics(role: .requester),
                now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) throws {
        self.host = host
        self.identity = identity
        self.store = try RequesterStore(path: directory.statePath)
        self.blobs = storage.objects
        self.blocks = storage.local.blocks
        self.storage = storage
        self.ledger = ledger
        self.account = account
        self.sealingKey = try directory.sealingKey()
        self.pubsub = pubsub
        self.logger = logger
        self.metrics = metrics
        self.now = now
    }

    /// Serves the task protocol and starts the loop that picks up submitted
    /// jobs, expires leases, announces jobs and finishes rounds.
    public func start() async {
        let protocolHelper = RequestResponse(protocolID: Self.taskProtocol, maxMessageSize: 8 << 20, timeout: .seconds(120))
        await protocolHelper.serve(on: host) { [weak self] bytes, peer in
            guard let self else { return [] }
            return await self.handle(bytes, from: peer)
        }
        loop = Task { [weak self] in
            var tick = 0
            while !Task.isCancelled, let self {
                await self.maintain(announce: tick % 20 == 0)
                tick += 1
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    /// Stops serving rounds, answering trainers, sending audit events and paying;
    /// returns once the maintenance pass, the requests being answered (at most
    /// ``stopWait``), the audit event and the payment under way (if any) are
    /// done, so nothing changes afterwards. Requests that come later are told
    /// to wait; parked claims are answered at once.
    public func stop() async {
        stopped = true
        notifyWaiters()
        let loop = self.loop
        loop?.cancel()
        await loop?.value
        if inFlight > 0 {
            let id = drainWaiters.newID()
            await withCheckedContinuation { drainWaiters.park(id, $0, timeout: Self.stopWait) { Task { [weak self] in await self?.drained(id) } } }
            if inFlight > 0 {
                logger.warning("stopping while \(inFlight) requests are still being answered after \(Self.stopWait)")
            }
        }
        for sender in [auditSender, paymentSender] {
            sender?.cancel()
            await sender?.value
        }
    }

    /// Counts a request or round as under way; false once ``stop()`` began.
    func beginWork() -> Bool {
        guard !stopped else { return false }
        inFlight += 1
        return true
    }

    /// Ends what ``beginWork()`` began; the last one lets a waiting ``stop()`` go on.
    func endWork() {
        inFlight -= 1
        if inFlight == 0 { drainWaiters.wakeAll() }
    }

    func drained(_ id: Int) {
        drainWaiters.wake(id)
    }

    // MARK: Maintenance

    func maintain(announce: Bool) async {
        guard !stopped else { return }
        do {
            // Only jobs this node does not hold yet are read and checked in full.
            for id in try store.unfinishedJobIDs() where jobs[id] == nil {
                if let record = try store.job(id), record.status != .done { try await adopt(record) }
            }
            for id in jobs.keys.sorted() {
                guard var record = jobs[id], record.status == .running else { continue }
                let reopened = record.board.expire(now: now())
                if !reopened.isEmpty {
                    jobs[id] = record
                    try store.saveBoard(job: id, record.board)
                    notifyWaiters()
                    metrics.add(.leasesExpired, Double(reopened.count), ["job": id])
                    for shard in reopened {
                        logger.info("lease expired; task reopened", metadata: ["job": "\(id)", "shard": "\(shard)"])
                        try? audit(record.spec, "lease_expired", ["job": .string(id), "round": .int(Int64(record.board.round)), "shard": .int(Int64(shard))])
                    }
                }
                if record.board.isRoundComplete { try await finishRound(id) }
                // A finished board whose job is not done yet: a crash came between the last round and settling the escrow.
                if record.board.isFinished { try await finishJob(id) }
                if announce { await self.announce(record) }
            }
            // Payments a failed ledger call left owed (each goes out once at a time).
            for update in try store.unpaidUpdates() where jobs[update.job] != nil { payInBackground(update) }
            sendAudit()
        } catch {
            logger.error("requester maintenance failed: \(error)")
        }
    }

    /// Starts (or resumes) a job: signs it again with this node's addresses,
    /// pays accepted updates a crash left unpaid, and finishes a round a crash
    /// left complete.
    func adopt(_ stored: RequesterStore.JobRecord) async throws {
        var record = stored
        try await publish(record.spec.id)
        if record.status == .pending {
            var spec = record.spec
            spec.requesterAddresses = await host.fullAddresses.map(\.description)
            record.signed = try SignedMessage(signing: spec, with: identity)
            record.spec = spec
            record.status = .running
            try store.updateSigned(job: spec.id, record.signed, status: .running)
            try audit(spec, "job_started", ["job": .string(spec.id), "requester": .string(spec.requester)])
        } else {
            record.board.recoverAfterRestart()
        }
        // The validation split first: once the job is in `jobs` a parked claim gets a lease, and a small task's
        // result can come back before a large read would finish — verifying it needs the probe.
        validation[record.spec.id] = try ShardFile.decode(try await blobs.get(key: JobSubmission.Keys.validation(record.spec.id)),
                                                         source: "validation shard of \(record.spec.id)")
        jobs[record.spec.id] = record
        try await restoreGlobalWeights(record.spec.id)
        notifyWaiters()
        let updates = try store.updates(job: record.spec.id)
        for update in updates { acceptedBy[update.trainer, default: 0] += 1 }
        for batch in Self.paymentBatches(updates.filter { !$0.paid }) { try await pay(batch) }
        try await recordMissingRounds(record.spec.id)
        await announce(record)
        logger.info("job running", metadata: ["job": "\(record.spec.id)", "round": "\(record.board.round + 1)/\(record.spec.rounds)"])
    }

    /// Publishes the signed JobSpec on ``jobsTopic`` (at adoption, then every few seconds while it runs).
    func announce(_ record: RequesterStore.JobRecord) async {
        guard let pubsub, let payload = try? CanonicalJSON.encode(record.signed) else { return }
        await pubsub.publish(Self.jobsTopic, Array(payload))
    }

    // MARK: Requests

    func handle(_ bytes: [UInt8], from peer: PeerID) async -> [UInt8] {
        let response: TaskResponse
        guard beginWork() else {
            return Array((try? CanonicalJSON.encode(Self.stopping)) ?? Data())
        }
        defer { endWork() }
        do {
            let request = try JSONDecoder().decode(TaskRequest.self, from: Data(bytes))
            switch request {
            case .jobs:
                response = .jobs(jobs.values.filter { $0.status == .running }.map(\.signed))
            case .claim(let claim):
                response = try await self.claim(claim, from: peer)
            case .submit(let signed):
                response = try await submit(signed, from: peer)
            }
        } catch let error as NodeError {
            response = .rejected(reason: error.message, slashed: false)
        } catch {
            response = .rejected(reason: "malformed request from \(peer): \(error)", slashed: false)
        }
        return Array((try? CanonicalJSON.encode(response)) ?? Data())
    }

    /// The answer about a job that is not in ``jobs``: one this node holds
    /// and has not finished is still being picked up after a start (adoption
    /// reads its validation split first), so the trainer waits a moment; any
    /// other job is over here. (`finished` makes a trainer drop the job.)
    func notRunning(_ job: String) -> TaskResponse {
        if let record = try? store.job(job), record.status != .done {
            return .wait(seconds: 1, reason: "job \(job) is starting on this requester")
        }
        return .finished(reason: "no running job \(job) here")
    }

    func claim(_ claim: Claim, from peer: PeerID) async throws -> TaskResponse {
        guard let minimumStake = jobs[claim.job]?.spec.minimumStake else { return notRunning(claim.job) }
        let trainer = peer.description
        let account = try AccountID(parsing: claim.account)
        // A stake seen sufficient is trusted for a few seconds: not a ledger read per claim.
        let recent = stakeChecks[claim.account].map { now() - $0.at < Self.stakeRecheckSeconds && $0.staked >= minimumStake } ?? false
        if !recent {
            let stake = try await ledger.stake(of: account)
            guard stake.staked >= minimumStake else {
                return .wait(seconds: 5, reason: "account \(account) stakes \(stake.staked) tinybars; the job needs \(minimumStake)")
            }
            stakeChecks[claim.account] = (at: now(), staked: stake.staked)
        }
        // Read the board only now: the actor may have run other requests during the await (or begun to stop).
        if stopped { return Self.stopping }
        for attempt in 0..<2 {
        guard var record = jobs[claim.job] else { return notRunning(claim.job) }
        let leaseID = SigV4Signer.hex((0..<6).map { _ in UInt8.random(in: 0...255) })
        switch record.board.claim(trainer: trainer, account: claim.account, now: now(), leaseSeconds: record.spec.leaseSeconds, leaseID: leaseID) {
        case .finished: return .finished(reason: "job \(claim.job) is complete")
        case .refused(let reason): return .finished(reason: reason)
        case .wait(let reason):
            // Park the claim until a task opens (a rejection, an expiry, the next round), then try once more.
            if attempt == 0 {
                logger.debug("claim parked", metadata: ["job": "\(claim.job)", "trainer": "\(trainer)"])
                await waitForChange(timeout: .seconds(2))
                if stopped { return Self.stopping }
                continue
            }
            return .wait(seconds: 0.05, reason: reason)
        case .leased(let shard, let holder):
            let fresh = holder.lease == leaseID
            let round = record.board.round
            jobs[claim.job] = record
            if fresh {
                // The lease and its audit event in one transaction.
                try store.saveBoard(job: claim.job, record.board, audit: try auditEvent(record.spec, "task_leased", [
                    "job": .string(claim.job), "round": .int(Int64(round)), "shard": .int(Int64(shard)),
                    "trainer": .string(trainer), "lease": .string(holder.lease)]))
                sendAudit()
                if roundStarted[claim.job] == nil { roundStarted[claim.job] = Date() }
            }
            let expires = Int(record.spec.leaseSeconds) + 60
            let lease = Lease(
                job: claim.job, round: round, shard: shard, lease: holder.lease, deadline: holder.deadline,
                weightsURL: try blobs.presignedURL(key: JobSubmission.Keys.global(claim.job, round: round), method: .get, expires: expires, contentType: nil).absoluteString,
                shardURL: try blobs.presignedURL(key: JobSubmission.Keys.shard(claim.job, shard), method: .get, expires: expires, contentType: nil).absoluteString,
                resultURL: try blobs.presignedURL(key: JobSubmission.Keys.result(claim.job, round: round, shard: shard, lease: holder.lease),
                                                  method: .put, expires: expires, contentType: nil).absoluteString,
                seed: TaskExecution.seed(job: record.spec, round: round, shard: shard))
            if fresh {
                metrics.add(.tasksLeased, 1, ["job": claim.job])
                logger.debug("task leased", metadata: ["job": "\(claim.job)", "round": "\(round)", "shard": "\(shard)", "trainer": "\(trainer)"])
            }
            return .lease(lease)
        }
        }
        return .wait(seconds: 0.05, reason: "no task open yet")
    }

    /// Parks the caller until ``notifyWaiters()`` or `timeout`.
    func waitForChange(timeout: Duration) async {
        let id = parkedClaims.newID()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            parkedClaims.park(id, continuation, timeout: timeout) { Task { [weak self] in await self?.wake(id) } }
        }
    }

    func wake(_ id: Int) {
        parkedClaims.wake(id)
    }

    /// Wakes every parked claim: a task may have opened.
    func notifyWaiters() {
        parkedClaims.wakeAll()
    }

    func submit(_ signed: SignedMessage<Receipt>, from peer: PeerID) async throws -> TaskResponse {
        let receipt = try signed.verified()
        guard signed.signer == peer.description, receipt.trainer == peer.description else {
            throw NodeError(.refused, "receipt signed by \(signed.signer) for trainer \(receipt.trainer) arrived from \(peer); a trainer hands in only its own tasks")
        }
        guard var record = jobs[receipt.job] else { return notRunning(receipt.job) }
        switch record.board.receive(round: receipt.round, shard: receipt.shard, lease: receipt.lease, trainer: receipt.trainer) {
        case .duplicate(let reason):
            let paid = try store.updates(job: receipt.job, round: receipt.round).first { $0.shard == receipt.shard && $0.lease == receipt.lease }
            if let paid { return .accepted(paid: paid.reward) }
            return .wait(seconds: 1, reason: reason)
        case .stale(let reason), .notYours(let reason):
            throw NodeError(.refused, "receipt for r\(receipt.round)-s\(receipt.shard) lease \(receipt.lease): \(reason)")
        case .verify:
            jobs[receipt.job] = record
        }
        let verifyStarted = ContinuousClock.now
        let verdict = await verify(receipt, signed: signed, spec: record.spec)
        // Verified one way or the other: the sealed upload is not needed again (what is kept is in node.sqlite).
        dropLocalObject(JobSubmission.Keys.result(receipt.job, round: receipt.round, shard: receipt.shard, lease: receipt.lease))
        let verifySeconds = (ContinuousClock.now - verifyStarted) / .seconds(1)
        metrics.add(.verifySeconds, verifySeconds, ["job": receipt.job])
        logger.debug("result verified", metadata: ["job": "\(receipt.job)", "round": "\(receipt.round)", "shard": "\(receipt.shard)",
                                                   "seconds": "\(verifySeconds)"])
        record = jobs[receipt.job]!
        let spec = record.spec
        let taskFields: [String: AuditValue] = ["job": .string(spec.id), "round": .int(Int64(receipt.round)), "shard": .int(Int64(receipt.shard)),
                                                "trainer": .string(receipt.trainer), "lease": .string(receipt.lease)]
        switch verdict {
        case .accept(let weights, let plain, let reexecuted, let verifiedBy):
            record.board.settle(shard: receipt.shard, lease: receipt.lease, accepted: true)
            jobs[spec.id] = record
            let update = RequesterStore.UpdateRecord(job: spec.id, round: receipt.round, shard: receipt.shard, trainer: receipt.trainer,
                                                     account: receipt.account, lease: receipt.lease, digest: receipt.weightsDigest,
                                                     samples: receipt.sampleCount, loss: receipt.trainLoss, weightsKey: "",
                                                     reward: spec.rewardPerTask, reexecuted: reexecuted, verifiedBy: verifiedBy)
            var fields = taskFields
            fields["reexecuted"] = .bool(reexecuted)
            fields["verifiedBy"] = .string(verifiedBy)
            fields["digest"] = .string(receipt.weightsDigest)
            // The weights and the audit event go into node.sqlite with the acceptance (one transaction);
            // the weights stay in memory for aggregation.
            try store.accept(update, weights: plain, board: record.board, audit: try auditEvent(spec, "result_accepted", fields))
            sendAudit()
            remember(update: weights, job: spec.id, round: receipt.round, shard: receipt.shard)
            slowestTraining[spec.id] = max(slowestTraining[spec.id] ?? 0, receipt.trainSeconds ?? 0)
            acceptedBy[receipt.trainer, default: 0] += 1
            metrics.add(.resultsAccepted, 1, ["job": spec.id])
            if reexecuted { metrics.add(.reexecutions, 1, ["job": spec.id]) }
            if record.board.isRoundComplete {
                // Aggregate behind the trainer's back: its answer does not wait for aggregation.
                if beginWork() {
                    Task { [weak self] in
                        await self?.finishRoundLogged(spec.id)
                        await self?.endWork()
                    }
                }
            }
            // Nor for the payment: the acceptance is on disk, so the payment goes out now and, if the ledger
            // fails, again from the maintenance loop or after a restart (a release is once per task on the ledger).
            // The last trainer of a round then claims in the next round at once, not a ledger transaction later.
            payInBackground(update)
            return .accepted(paid: spec.rewardPerTask)
        case .reject(let reason):
            record.board.settle(shard: receipt.shard, lease: receipt.lease, accepted: false)
            jobs[spec.id] = record
            try store.refuse(job: spec.id, round: receipt.round, shard: receipt.shard, trainer: receipt.trainer, reason: reason,
                             slashed: false, evidence: nil, board: record.board)
            notifyWaiters()
            metrics.add(.resultsRejected, 1, ["job": spec.id])
            var fields = taskFields
            fields["reason"] = .string(reason)
            try audit(spec, "result_rejected", fields)
            logger.warning("result rejected", metadata: ["trainer": "\(receipt.trainer)", "reason": "\(reason)"])
            return .rejected(reason: reason, slashed: false)
        case .fraud(let reason, let evidence, let verifiedBy, let validatorVerdict):
            record.board.settle(shard: receipt.shard, lease: receipt.lease, accepted: false)
            record.board.ban(receipt.trainer)
            jobs[spec.id] = record
            notifyWaiters()
            let document = try CanonicalJSON.encode(FraudEvidence(job: spec.id, receipt: signed, reason: reason, recomputedDigest: evidence,
                                                                       validatorVerdict: validatorVerdict))
            let cid = try blocks.put(document)
            let slashable = min(spec.slashAmount, try await ledger.stake(of: try AccountID(parsing: receipt.account)).staked)
            if slashable > 0 {
                try await ledger.slash(try AccountID(parsing: receipt.account), amount: slashable, evidenceCID: cid.description, authority: ledger.treasury)
            }
            try store.refuse(job: spec.id, round: receipt.round, shard: receipt.shard, trainer: receipt.trainer, reason: reason,
                             slashed: slashable > 0, evidence: cid.description, board: jobs[spec.id]?.board ?? record.board, verifiedBy: verifiedBy)
            metrics.add(.trainersSlashed, 1, ["job": spec.id])
            metrics.add(.reexecutions, 1, ["job": spec.id])
            var fields = taskFields
            fields["reason"] = .string(reason)
            fields["evidence"] = .string(cid.description)
            fields["slashed"] = .int(slashable)
            fields["verifiedBy"] = .string(verifiedBy)
            try audit(spec, "trainer_slashed", fields)
            logger.warning("fraud proven; trainer slashed", metadata: ["trainer": "\(receipt.trainer)", "evidence": "\(cid)"])
            return .rejected(reason: reason, slashed: slashable > 0)
        }
    }

    /// Deletes an object this node no longer reads from its own store (in
    /// the background). A bucket keeps everything: expiring objects there is
    /// the bucket owner's lifecycle policy.
    func dropLocalObject(_ key: String) {
        guard let local = blobs as? LocalBlobStore else { return }
        Task { try? await local.delete(key: key) }
    }

    /// Queues `update`'s payment unless it is already under way, and wakes
    /// the payment sender; a failure is logged and retried by ``maintain(announce:)``.
    func payInBackground(_ update: RequesterStore.UpdateRecord) {
        let key = Self.paymentKey(update)
        guard !paying.contains(key) else { return }
        paying.insert(key)
        unpaid.append(update)
        guard paymentSender == nil, !stopped else { return }
        paymentSender = Task { [weak self] in await self?.sendPayments() }
    }

    /// Pays the queued updates, one ledger transaction per job for what
    /// gathered meanwhile: results come in bursts, as audit events do, so it
    /// waits ``linger`` first (bench/node_rounds.py: 8 transactions per
    /// round become one or two).
    func sendPayments() async {
        defer { paymentSender = nil }
        try? await Task.sleep(for: linger)
        for _ in 0..<10_000 where !unpaid.isEmpty && !stopped {
            let due = unpaid
            unpaid = []
            for batch in Self.paymentBatches(due) {
                do { try await pay(batch) } catch {
                    let tasks = batch.map { JobSpec.taskID(round: $0.round, shard: $0.shard) }.joined(separator: ", ")
                    logger.warning("payment for \(tasks) of \(batch[0].job) failed: \(error); will retry", metadata: ["job": "\(batch[0].job)"])
                }
                for update in batch { paying.remove(Self.paymentKey(update)) }
            }
        }
        // Stopping: what is left is unpaid in node.sqlite and goes out after the restart.
        for update in unpaid { paying.remove(Self.paymentKey(update)) }
        unpaid = []
    }

    /// `updates` as ledger transactions: by job, at most ``EscrowRelease/maxPerTransaction`` each.
    static func paymentBatches(_ updates: [RequesterStore.UpdateRecord]) -> [[RequesterStore.UpdateRecord]] {
        Dictionary(grouping: updates, by: \.job).sorted { $0.key < $1.key }.flatMap { _, updates in
            stride(from: 0, to: updates.count, by: EscrowRelease.maxPerTransaction).map {
                Array(updates[$0..<min(updates.count, $0 + EscrowRelease.maxPerTransaction)])
            }
        }
    }

    /// How ``paying`` names an update.
    static func paymentKey(_ update: RequesterStore.UpdateRecord) -> String { "\(update.job)/\(update.round)/\(update.shard)" }

    /// Pays every accepted update of `job` still owed and waits until all are paid (before the escrow's
    /// rest is refunded); payments already under way are waited for, not sent again (bounded: 30 s).
    func payOutstanding(_ job: String) async throws {
        for _ in 0..<600 {
            let owed = try store.unpaidUpdates().filter { $0.job == job }
            if owed.isEmpty { return }
            let underWay = owed.contains { paying.contains(Self.paymentKey($0)) }
            for batch in Self.paymentBatches(owed.filter { !paying.contains(Self.paymentKey($0)) }) { try await pay(batch) }
            // What was paid here is marked paid; only payments already under way are worth a pause.
            if underWay { try await Task.sleep(for: .milliseconds(50)) }
        }
        throw NodeError(.storage, "payments of \(job) are still owed after 30 s; is the ledger reachable? (retried by the maintenance loop)")
    }

    /// Pays `updates` (all of one job) in one ledger transaction and marks them paid in one SQLite transaction.
    /// A release is once per task on the ledger, so paying again after a crash between the two pays nothing twice.
    func pay(_ updates: [RequesterStore.UpdateRecord]) async throws {
        guard let job = updates.first?.job else { return }
        let rewarded = updates.filter { $0.reward > 0 }
        if !rewarded.isEmpty {
            let releases = try rewarded.map {
                EscrowRelease(task: JobSpec.taskID(round: $0.round, shard: $0.shard), recipient: try AccountID(parsing: $0.account), amount: $0.reward)
            }
            try await ledger.releaseEscrow(job: job, releases: releases, owner: account)
            for update in rewarded { metrics.add(.paidTinybars, Double(update.reward), ["job": job]) }
        }
        try store.markPaid(updates)
    }
}

/// What a slash cites: the trainer's own signed receipt and what re-execution found.
public struct FraudEvidence: Codable, Sendable {
    public var job: String
    public var receipt: SignedMessage<Receipt>
    public var reason: String
    public var recomputedDigest: String
    /// The validator's signed verdict, when a validator found the mismatch (the requester confirmed it).
    public var validatorVerdict: SignedMessage<ValidatorVerdict>? = nil
}
