import MeshTensor

/// How a dataset is split among federated clients; deterministic for a seed.
///
/// Every scheme returns, per client, the ascending sample indices it holds; no sample is
/// given to two clients. What else is guaranteed depends on the scheme:
///
/// - ``iid``: a uniformly random split; every sample is assigned, client sizes differ by at most one.
/// - ``dirichlet(alpha:minimumClientSize:)``: label skew (Hsu et al. 2019). For every class,
///   proportions over the clients are drawn from Dirichlet(α, …, α) and that class's samples
///   (shuffled) are cut accordingly. Every sample is assigned. Small α (0.1) gives clients that
///   hold few classes, large α (100) approaches IID. Client sizes vary; with
///   `minimumClientSize > 0` the draw is repeated (deterministically, at most 1000 times) until
///   every client has at least that many samples.
/// - ``shards(classesPerClient:)``: the pathological non-IID split of McMahan et al. (2017):
///   samples are sorted by label (ties in random order) and cut into `clients × k` equal
///   shards, each client receiving `k` random shards. All clients get the same number of
///   samples, `k × (n / (clients × k))`; the `n mod (clients × k)` left-over samples are not
///   assigned. A shard can straddle two labels, so a client holds at most `2k` classes,
///   usually `k`.
///
/// ```swift
/// let parts = try Partitioner.dirichlet(alpha: 0.5).partition(labels: train.labels,
///     classCount: 10, clients: 20, seed: 7)
/// let client3 = train.subset(parts[3])
/// ```
public enum Partitioner: Sendable, Hashable {
    /// A uniformly random, equal-size split.
    case iid
    /// Dirichlet(α) label skew; α > 0.
    case dirichlet(alpha: Double, minimumClientSize: Int = 0)
    /// McMahan et al.'s shards: `classesPerClient` label-sorted shards per client.
    case shards(classesPerClient: Int)

    /// Splits the samples with `labels` (classes `0..<classCount`) among `clients` clients.
    ///
    /// - Returns: `clients` arrays of ascending sample indices, pairwise disjoint.
    /// - Throws: ``FormatError`` `.invalidArgument` for impossible requests (no clients,
    ///   α ≤ 0, more shards than samples, a minimum size that cannot be met).
    public func partition(labels: [Int32], classCount: Int, clients: Int, seed: UInt64) throws -> [[Int]] {
        func fail(_ message: String) -> FormatError { FormatError(.invalidArgument, message) }
        guard clients >= 1 else { throw fail("clients: \(clients) must be at least 1") }
        guard classCount >= 1, labels.allSatisfy({ $0 >= 0 && Int($0) < classCount }) else {
            throw fail("labels must be class indices in 0..<\(classCount)")
        }
        var rng = SeededGenerator(seed: seed)
        switch self {
        case .iid:
            let order = rng.permutation(labels.count)
            return (0..<clients).map { client in
                let lower = client * labels.count / clients
                let upper = (client + 1) * labels.count / clients
                return order[lower..<upper].sorted()
            }

        case let .dirichlet(alpha, minimumClientSize):
            guard alpha > 0, alpha.isFinite else { throw fail("dirichlet alpha: \(alpha) must be positive") }
            guard minimumClientSize >= 0, minimumClientSize * clients <= labels.count else {
                throw fail("dirichlet minimumClientSize: \(minimumClientSize) × \(clients) clients exceeds the \(labels.count) samples")
            }
            var byClass = [[Int]](repeating: [], count: classCount)
            for (index, label) in labels.enumerated() { byClass[Int(label)].append(index) }
            for attempt in 0..<1000 {
                _ = attempt
                var parts = [[Int]](repeating: [], count: clients)
                for members in byClass where !members.isEmpty {
                    let shuffled = rng.permutation(members.count).map { members[$0] }
                    let weights = Partitioner.dirichletSample(alpha: alpha, count: clients, using: &rng)
                    var cumulative = 0.0
                    var start = 0
                    for client in 0..<clients {
                        cumulative += weights[client]
                        let end = client == clients - 1
                            ? shuffled.count
                            : min(shuffled.count, Int((cumulative * Double(shuffled.count)).rounded(.down)))
                        if end > start { parts[client].append(contentsOf: shuffled[start..<end]) }
                        start = max(start, end)
                    }
                }
                if parts.allSatisfy({ $0.count >= minimumClientSize }) {
                    return parts.map { $0.sorted() }
                }
            }
            throw fail("dirichlet: no draw in 1000 gave every client \(minimumClientSize) samples; "
                + "lower minimumClientSize, raise alpha or use fewer clients")

        case let .shards(k):
            guard k >= 1 else { throw fail("shards classesPerClient: \(k) must be at least 1") }
            let shardCount = clients * k
            let shardSize = labels.count / shardCount
            guard shardSize >= 1 else {
                throw fail("shards: \(clients) clients × \(k) shards need at least \(shardCount) samples, have \(labels.count)")
            }
            // Sort by label; a random tie-break decides which samples of a class share a shard.
            let tieBreak = rng.permutation(labels.count)
            var rank = [Int](repeating: 0, count: labels.count)
            for (position, index) in tieBreak.enumerated() { rank[index] = position }
            let sorted = labels.indices.sorted { (labels[$0], rank[$0]) < (labels[$1], rank[$1]) }
            let assignment = rng.permutation(shardCount)
            return (0..<clients).map { client in
                var indices: [Int] = []
                indices.reserveCapacity(k * shardSize)
                for slot in 0..<k {
                    let shard = assignment[client * k + slot]
                    indices.append(contentsOf: sorted[(shard * shardSize)..<((shard + 1) * shardSize)])
                }
                return indices.sorted()
            }
        }
    }

    /// A sample of Dirichlet(α, …, α) over `count` outcomes, via normalized Gamma(α, 1) draws.
    static func dirichletSample(alpha: Double, count: Int, using rng: inout SeededGenerator) -> [Double] {
        var draws = (0..<count).map { _ in GammaSampler.sample(shape: alpha, using: &rng) }
        let total = draws.reduce(0, +)
        if !(total > 0) || !total.isFinite {
            // All draws underflowed (tiny α): put all mass on one random outcome, the limit as α → 0.
            draws = [Double](repeating: 0, count: count)
            draws[Int(rng.next() % UInt64(count))] = 1
            return draws
        }
        return draws.map { $0 / total }
    }
}
