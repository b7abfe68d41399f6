/// A meshfl ledger operation with no HAPI counterpart, carried in
/// `TransactionBody` field 8000.
///
/// Wire form: `message MeshflOperation { oneof op { Op escrowLock = 1;
/// Op escrowRelease = 2; Op escrowRefund = 3; Op stake = 4; Op unstake = 5;
/// Op slash = 6; Op escrowReleases = 7; } }` with `message Op { string job = 1;
/// int64 amount = 2; string task = 3; AccountID recipient = 4;
/// AccountID account = 5; string evidenceCID = 6; repeated Op release = 7; }`
/// (each `release` of `escrowReleases` sets task, amount and recipient).
public enum MeshflOperation: Hashable, Sendable {
    /// Moves `amount` tinybars from the payer into the escrow of `job` (creating it; the payer owns it).
    case escrowLock(job: String, amount: Int64)
    /// Pays `amount` from the escrow of `job` to `recipient` for `task`; signed by the escrow owner.
    case escrowRelease(job: String, task: String, recipient: AccountID, amount: Int64)
    /// Several releases of `job` in one transaction (at most
    /// ``EscrowRelease/maxPerTransaction``), applied whole or
    /// not at all; each task is still paid once, as by `escrowRelease`.
    case escrowReleases(job: String, releases: [EscrowRelease])
    /// Returns what is left in the escrow of `job` to its owner and closes it.
    case escrowRefund(job: String)
    /// Moves `amount` from the payer's balance into the payer's stake.
    case stake(amount: Int64)
    /// Moves `amount` from the payer's stake back to its balance, once the cooldown has passed.
    case unstake(amount: Int64)
    /// Takes `amount` from `account`'s stake, citing the CID of the evidence; signed by the treasury.
    case slash(account: AccountID, amount: Int64, evidenceCID: String)

    /// The TransactionBody field that carries meshfl operations.
    static let bodyField = 8000

    func encode(into w: inout ProtobufWriter) {
        func op(_ n: Int, _ build: (inout ProtobufWriter) -> Void) { w.message(n, build) }
        switch self {
        case .escrowLock(let job, let amount):
            op(1) { $0.string(1, job); $0.int64(2, amount) }
        case .escrowRelease(let job, let task, let recipient, let amount):
            op(2) { $0.string(1, job); $0.int64(2, amount); $0.string(3, task); $0.message(4) { recipient.encode(into: &$0) } }
        case .escrowReleases(let job, let releases):
            op(7) { w in
                w.string(1, job)
                for release in releases {
                    w.message(7) { $0.int64(2, release.amount); $0.string(3, release.task); $0.message(4) { release.recipient.encode(into: &$0) } }
                }
            }
        case .escrowRefund(let job):
            op(3) { $0.string(1, job) }
        case .stake(let amount):
            op(4) { $0.int64(2, amount) }
        case .unstake(let amount):
            op(5) { $0.int64(2, amount) }
        case .slash(let account, let amount, let cid):
            op(6) { $0.int64(2, amount); $0.message(5) { account.encode(into: &$0) }; $0.string(6, cid) }
        }
    }

    static func decode(_ bytes: ArraySlice<UInt8>) throws(LedgerError) -> MeshflOperation {
        var r = ProtobufReader(bytes)
        var result: MeshflOperation?
        while let f = try r.next() {
            let op = try Fields(try f.slice())
            switch f.number {
            case 1: result = .escrowLock(job: op.job, amount: op.amount)
            case 2: result = .escrowRelease(job: op.job, task: op.task, recipient: op.recipient ?? AccountID(num: 0), amount: op.amount)
            case 7:
                let releases = try op.releases.map { bytes throws(LedgerError) in
                    let release = try Fields(bytes)
                    return EscrowRelease(task: release.task, recipient: release.recipient ?? AccountID(num: 0), amount: release.amount)
                }
                result = .escrowReleases(job: op.job, releases: releases)
            case 3: result = .escrowRefund(job: op.job)
            case 4: result = .stake(amount: op.amount)
            case 5: result = .unstake(amount: op.amount)
            case 6: result = .slash(account: op.account ?? AccountID(num: 0), amount: op.amount, evidenceCID: op.cid)
            default: break
            }
        }
        guard let result else {
            throw LedgerError(.malformed, "a meshfl operation (field 8000) names no operation; the sender is newer or broken.")
        }
        return result
    }

    /// The fields of one `Op` message.
    struct Fields {
        var job = "", task = "", cid = "", amount: Int64 = 0
        var recipient: AccountID?, account: AccountID?
        /// The undecoded `release` entries (field 7).
        var releases: [ArraySlice<UInt8>] = []

        init(_ bytes: ArraySlice<UInt8>) throws(LedgerError) {
            var inner = ProtobufReader(bytes)
            while let g = try inner.next() {
                switch g.number {
                case 1: job = try g.string()
                case 2: amount = try g.int64()
                case 3: task = try g.string()
                case 4: recipient = try AccountID.decode(try g.slice())
                case 5: account = try AccountID.decode(try g.slice())
                case 6: cid = try g.string()
                case 7: releases.append(try g.slice())
                default: break
                }
            }
        }
    }
}

/// One payment of a batch (``MeshflOperation/escrowReleases(job:releases:)``,
/// ``Ledger/releaseEscrow(job:releases:owner:)``): `amount` to `recipient` for `task`.
public struct EscrowRelease: Hashable, Sendable {
    /// The most releases one `escrowReleases` transaction carries (a round's results and then some).
    public static let maxPerTransaction = 64

    public var task: String
    public var recipient: AccountID
    public var amount: Int64

    public init(task: String, recipient: AccountID, amount: Int64) {
        self.task = task
        self.recipient = recipient
        self.amount = amount
    }
}
