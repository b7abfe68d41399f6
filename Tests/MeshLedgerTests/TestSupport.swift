import Foundation
import Synchronization
@testable import MeshLedger

/// Hex helpers and fixtures shared by the ledger tests.
enum Fixture {
    static func hex(_ s: String) -> [UInt8] { HexCoding.decode(s)! }
    static func hex(_ b: [UInt8]) -> String { HexCoding.encode(b) }

    /// RFC 8032 section 7.1, test 1.
    static let rfc8032Secret = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
    static let rfc8032Public = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"

    /// A fresh directory under the system temp dir, removed by the caller.
    static func tempDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("meshledger-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// A clock tests move by hand.
final class ManualClock: Sendable {
    private let now: Mutex<ConsensusTimestamp>

    init(_ start: ConsensusTimestamp = ConsensusTimestamp(seconds: 1_700_000_000)) {
        now = Mutex(start)
    }

    func advance(seconds: Int64) {
        now.withLock { $0 = ConsensusTimestamp(seconds: $0.seconds + seconds, nanos: $0.nanos) }
    }

    var read: @Sendable () -> ConsensusTimestamp {
        { [self] in now.withLock { $0 } }
    }
}

/// A ledger in a fresh temp directory, with a manual clock and a short cooldown.
struct TestLedger {
    let directory: URL
    let clock: ManualClock
    let ledger: LocalLedger

    init(cooldownSeconds: Int64 = 60, wallClock: Bool = false) throws {
        directory = try Fixture.tempDirectory()
        clock = ManualClock()
        var config = LocalLedger.Configuration()
        if !wallClock { config.clock = clock.read }
        config.stakeCooldownSeconds = cooldownSeconds
        ledger = try LocalLedger(path: directory.appendingPathComponent("test.ledger").path, configuration: config)
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}
