import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Block exchange providers from the Kademlia DHT, as separate processes on
/// 127.0.0.1: a seeder announces a blob through a DHT node that holds no
/// blocks; a fetcher that knows only that DHT node finds the seeder there.
@Suite(.serialized)
struct StoreDHTTests {
    typealias CLI = TrainCommandTests

    let cli = CLI()

    /// A background `meshfl` process, killed by pid when the test ends.
    final class Background {
        let process = Process()

        init(_ arguments: [String], in directory: URL, log: String) throws {
            process.executableURL = try CLI.binary
            process.currentDirectoryURL = directory
            process.arguments = arguments
            process.standardInput = Pipe()
            process.standardOutput = try FileHandle(forWritingTo: directory.appendingPathComponent(log + ".out").creatingFile())
            process.standardError = try FileHandle(forWritingTo: directory.appendingPathComponent(log + ".err").creatingFile())
            try process.run()
        }

        deinit {
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    /// Starts `meshfl p2p dht serve` on a free port; returns the process and its full address.
    func dhtNode(in directory: URL) throws -> (Background, String) {
        let id = try cli.meshfl(["p2p", "id", "--data-dir", "dht"], in: directory).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let port = try NetworkJobTests.freePort()
        let node = try Background(["p2p", "dht", "serve", "--data-dir", "dht", "--listen", "/ip4/127.0.0.1/tcp/\(port)", "--duration", "120"],
                                  in: directory, log: "dht")
        let address = "/ip4/127.0.0.1/tcp/\(port)/p2p/\(id)"
        // Bounded wait until it accepts connections (a ping answers).
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, try cli.meshfl(["p2p", "ping", address, "--count", "1"], in: directory).status != 0 {
            Thread.sleep(forTimeInterval: 0.2)
        }
        return (node, address)
    }

    @Test(.timeLimit(.minutes(2)))
    func aFetcherFindsTheSeederThroughTheDHT() throws {
        let directory = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let blob = Data((0..<2_500_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
        try blob.write(to: directory.appendingPathComponent("blob.bin"))
        let put = try cli.meshfl(["store", "put", "blob.bin", "--data-dir", "seeder"], in: directory)
        try #require(put.status == 0, "store put: \(put.stderr)")
        let cid = put.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let (dht, dhtAddress) = try dhtNode(in: directory)

        let seeder = try Background(["store", "seed", cid, "--data-dir", "seeder", "--dht-bootstrap", dhtAddress], in: directory, log: "seeder")
        let announced = directory.appendingPathComponent("seeder.err")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, !((try? String(contentsOf: announced, encoding: .utf8)) ?? "").contains("providing \(cid)") {
            Thread.sleep(forTimeInterval: 0.2)
        }
        let log = (try? String(contentsOf: announced, encoding: .utf8)) ?? ""
        try #require(log.contains("providing \(cid) (told 1 DHT peers)"), "the seeder should announce to the DHT node: \(log)")

        // The fetcher is given no --from: its only provider can come from the DHT.
        let fetch = try cli.meshfl(["store", "fetch", cid, "--data-dir", "fetcher", "--dht-bootstrap", dhtAddress,
                                    "--out", "got.bin", "--timeout", "60"], in: directory)
        #expect(fetch.status == 0, "fetch: \(fetch.stderr)")
        #expect(try Data(contentsOf: directory.appendingPathComponent("got.bin")) == blob)
        let seederID = try cli.meshfl(["p2p", "id", "--data-dir", "seeder"], in: directory).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(fetch.stdout.contains("\"\(seederID)\""), "every block came from the seeder found in the DHT: \(fetch.stdout)")

        // A blob nobody provides: a clear error, no wait.
        let missing = try cli.meshfl(["store", "fetch", "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e", "--data-dir", "fetcher",
                                      "--dht-bootstrap", dhtAddress, "--timeout", "30"], in: directory)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no provider of bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e is known"), "\(missing.stderr)")
        _ = (dht, seeder)
    }
}
