import MeshTensor
import Testing
@testable import MeshNN

struct PartitionerTests {
    /// 10 classes × 500 samples, labels interleaved.
    static let labels: [Int32] = (0..<5000).map { Int32($0 % 10) }

    static func checkDisjoint(_ parts: [[Int]], total: Int) -> Set<Int> {
        var seen = Set<Int>()
        for part in parts {
            #expect(part == part.sorted())
            for index in part {
                #expect(index >= 0 && index < total)
                #expect(seen.insert(index).inserted, "sample \(index) given twice")
            }
        }
        return seen
    }

    static func classCounts(_ part: [Int]) -> [Int] {
        var counts = [Int](repeating: 0, count: 10)
        for index in part { counts[Int(labels[index])] += 1 }
        return counts
    }

    static let schemes: [Partitioner] = [.iid, .dirichlet(alpha: 0.5), .dirichlet(alpha: 0.1, minimumClientSize: 20), .shards(classesPerClient: 2)]

    @Test(arguments: schemes)
    func deterministicForASeed(_ scheme: Partitioner) throws {
        let a = try scheme.partition(labels: Self.labels, classCount: 10, clients: 7, seed: 42)
        let b = try scheme.partition(labels: Self.labels, classCount: 10, clients: 7, seed: 42)
        let c = try scheme.partition(labels: Self.labels, classCount: 10, clients: 7, seed: 43)
        #expect(a == b)
        #expect(a != c)
        #expect(a.count == 7)
        _ = Self.checkDisjoint(a, total: Self.labels.count)
    }

    /// The exact split for a seed is part of meshfl's determinism contract (requesters and
    /// verifiers recompute it); a change here changes every job's shards.
    @Test func pinnedSplitsForSeed42() throws {
        let iid = try Partitioner.iid.partition(labels: Self.labels, classCount: 10, clients: 7, seed: 42)
        #expect(iid.map(\.count) == [714, 714, 714, 715, 714, 714, 715])
        #expect(iid[0].prefix(6) == [11, 12, 28, 29, 53, 70])
        let dirichlet = try Partitioner.dirichlet(alpha: 0.5).partition(labels: Self.labels, classCount: 10, clients: 7, seed: 42)
        #expect(dirichlet.map(\.count) == [989, 499, 719, 427, 747, 1167, 452])
        #expect(dirichlet[0].prefix(6) == [0, 3, 8, 18, 27, 28])
        let shards = try Partitioner.shards(classesPerClient: 2).partition(labels: Self.labels, classCount: 10, clients: 7, seed: 42)
        #expect(shards.map(\.count) == Array(repeating: 714, count: 7))
        #expect(shards[0].prefix(6) == [4, 5, 14, 15, 24, 25])
    }

    @Test func iidIsBalancedAndComplete() throws {
        let parts = try Partitioner.iid.partition(labels: Self.labels, classCount: 10, clients: 7, seed: 1)
        #expect(Self.checkDisjoint(parts, total: 5000).count == 5000)
        let sizes = parts.map(\.count)
        #expect(sizes.max()! - sizes.min()! <= 1 && sizes.reduce(0, +) == 5000)
        for part in parts {
            // ~71 per class per client; a uniform split stays well inside ±40.
            #expect(Self.classCounts(part).allSatisfy { abs($0 - part.count / 10) < 40 }, "\(Self.classCounts(part))")
        }
        let single = try Partitioner.iid.partition(labels: Self.labels, classCount: 10, clients: 1, seed: 1)
        #expect(single == [Array(0..<5000)])
    }

    @Test func dirichletSmallAlphaSkewsLabels() throws {
        let parts = try Partitioner.dirichlet(alpha: 0.1).partition(labels: Self.labels, classCount: 10, clients: 10, seed: 3)
        #expect(Self.checkDisjoint(parts, total: 5000).count == 5000)
        // With α = 0.1 a client's data is dominated by few classes.
        let dominant = parts.filter { !$0.isEmpty }.map { part -> Double in
            let counts = Self.classCounts(part).sorted(by: >)
            return Double(counts[0] + counts[1]) / Double(part.count)
        }
        let meanTopTwo = dominant.reduce(0, +) / Double(dominant.count)
        #expect(meanTopTwo > 0.75, "top-two class share \(meanTopTwo)")
    }

    @Test func dirichletLargeAlphaIsNearlyUniform() throws {
        let parts = try Partitioner.dirichlet(alpha: 1000).partition(labels: Self.labels, classCount: 10, clients: 5, seed: 3)
        #expect(Self.checkDisjoint(parts, total: 5000).count == 5000)
        for part in parts {
            #expect(abs(part.count - 1000) < 60, "\(part.count)")
            #expect(Self.classCounts(part).allSatisfy { abs($0 - 100) < 15 }, "\(Self.classCounts(part))")
        }
    }

    @Test func dirichletMinimumClientSize() throws {
        let parts = try Partitioner.dirichlet(alpha: 0.1, minimumClientSize: 50)
            .partition(labels: Self.labels, classCount: 10, clients: 20, seed: 8)
        #expect(parts.allSatisfy { $0.count >= 50 })
        #expect(Self.checkDisjoint(parts, total: 5000).count == 5000)
        #expect(throws: FormatError.self) {
            try Partitioner.dirichlet(alpha: 0.1, minimumClientSize: 300).partition(labels: Self.labels, classCount: 10, clients: 20, seed: 8)
        }
    }

    @Test func shardsGiveEqualSizesAndFewClasses() throws {
        let parts = try Partitioner.shards(classesPerClient: 2).partition(labels: Self.labels, classCount: 10, clients: 10, seed: 5)
        // 20 shards of 250 samples; class boundaries fall on shard boundaries, so exactly ≤ 2 classes each.
        #expect(parts.allSatisfy { $0.count == 500 })
        #expect(Self.checkDisjoint(parts, total: 5000).count == 5000)
        for part in parts {
            let classes = Self.classCounts(part).filter { $0 > 0 }
            #expect(classes.count <= 2 && classes.allSatisfy { $0 % 250 == 0 }, "\(Self.classCounts(part))")
        }
        // Uneven split: 7 clients × 3 shards of 238 samples, 2 left over; at most 2k classes.
        let uneven = try Partitioner.shards(classesPerClient: 3).partition(labels: Self.labels, classCount: 10, clients: 7, seed: 5)
        #expect(uneven.allSatisfy { $0.count == 3 * (5000 / 21) })
        #expect(Self.checkDisjoint(uneven, total: 5000).count == 21 * (5000 / 21))
        #expect(uneven.allSatisfy { Self.classCounts($0).filter { $0 > 0 }.count <= 6 })
        let meanClasses = Double(uneven.map { Self.classCounts($0).filter { $0 > 0 }.count }.reduce(0, +)) / 7
        #expect(meanClasses < 5)
    }

    static let impossible: [(Partitioner, Int)] = [
        (.iid, 0), (.dirichlet(alpha: 0), 3), (.dirichlet(alpha: -1), 3), (.shards(classesPerClient: 0), 3),
        (.shards(classesPerClient: 2), 3000),
    ]

    @Test(arguments: impossible)
    func impossibleRequestsThrow(_ scheme: Partitioner, clients: Int) {
        #expect(throws: FormatError.self) { try scheme.partition(labels: Self.labels, classCount: 10, clients: clients, seed: 0) }
    }

    @Test func labelsOutOfRangeThrow() {
        #expect(throws: FormatError.self) { try Partitioner.iid.partition(labels: [0, 5], classCount: 3, clients: 1, seed: 0) }
    }

    /// Marsaglia–Tsang gives the Gamma(k, 1) mean k and variance k.
    @Test(arguments: [0.3, 1.0, 3.7])
    func gammaMoments(_ shape: Double) {
        var rng = SeededGenerator(seed: 77)
        let n = 40_000
        let draws = (0..<n).map { _ in GammaSampler.sample(shape: shape, using: &rng) }
        #expect(draws.allSatisfy { $0 >= 0 && $0.isFinite })
        let mean = draws.reduce(0, +) / Double(n)
        let variance = draws.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        #expect(abs(mean - shape) < 0.03 * max(shape, 1), "mean \(mean)")
        #expect(abs(variance - shape) < 0.08 * max(shape, 1), "variance \(variance)")
    }

    @Test func dirichletSampleIsADistribution() {
        var rng = SeededGenerator(seed: 5)
        for alpha in [0.001, 0.5, 10] {
            let p = Partitioner.dirichletSample(alpha: alpha, count: 8, using: &rng)
            #expect(p.count == 8 && p.allSatisfy { $0 >= 0 } && abs(p.reduce(0, +) - 1) < 1e-9)
        }
    }
}
