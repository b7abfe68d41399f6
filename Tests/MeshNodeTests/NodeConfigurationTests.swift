import Foundation
import Testing
@testable import MeshNode

struct NodeConfigurationTests {
    @Test func flagsWinOverTheEnvironmentWhichWinsOverTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshfl-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("node.json").path
        try Data(#"{"role": "trainer", "cores": 4, "stake": 7000, "ledger": "local:state/dev.ledger", "storage": "local:/abs/blobs", "dataDir": "data", "bootstrap": ["/ip4/127.0.0.1/tcp/1/p2p/x"]}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        let file = try NodeConfiguration.load(path)
        #expect(file.ledger == "local:" + directory.appendingPathComponent("state/dev.ledger").path)
        #expect(file.storage == "local:/abs/blobs")
        #expect(file.dataDir == directory.appendingPathComponent("data").path)

        let environment = try NodeConfiguration.environment(["MESHFL_CORES": "2", "MESHFL_BOOTSTRAP": "/a, /b /c", "MESHFL_ROLE": " ",
                                                             "MESHFL_LOG_FORMAT": "json"])
        #expect(environment.bootstrap == ["/a", "/b", "/c"])
        #expect(environment.role == nil, "a blank variable is unset")
        var flags = NodeConfiguration()
        flags.cores = 1
        let merged = file.overriding(environment).overriding(flags)
        #expect(merged.role == "trainer")
        #expect(merged.cores == 1)
        #expect(merged.stake == 7000)
        #expect(merged.bootstrap == ["/a", "/b", "/c"])
        #expect(merged.logFormat == "json")
    }

    @Test func unknownKeysAndBadNumbersNameTheirSource() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("meshfl-config-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(#"{"roles": "trainer"}"#.utf8).write(to: URL(fileURLWithPath: path))
        let unknown = try #require(throws: NodeError.self) { try NodeConfiguration.load(path) }
        #expect(unknown.message.contains(path) && unknown.message.contains("\"roles\""))
        let number = try #require(throws: NodeError.self) { try NodeConfiguration.environment(["MESHFL_STAKE": "lots"]) }
        #expect(number.message == "MESHFL_STAKE=lots: expected a whole number")
        let missing = try #require(throws: NodeError.self) { try NodeConfiguration.load(path + ".missing") }
        #expect(missing.message.contains("cannot read the config file"))
    }
}

struct NodeMetricsTests {
    @Test func rendersThePrometheusTextFormat() {
        let metrics = NodeMetrics(role: .requester)
        metrics.add(.resultsAccepted, 1, ["job": "j1"])
        metrics.add(.resultsAccepted, 2, ["job": "j1"])
        metrics.add(.resultsAccepted, 1, ["job": "say \"hi\"\\\n"])
        metrics.set(.roundAccuracy, 0.8125, ["job": "j1"])
        metrics.add(.peersConnected, 1)
        metrics.add(.peersConnected, -1)
        let text = metrics.render()
        #expect(text.contains("# TYPE meshfl_results_accepted_total counter\n"))
        #expect(text.contains("meshfl_results_accepted_total{job=\"j1\"} 3\n"))
        #expect(text.contains("meshfl_results_accepted_total{job=\"say \\\"hi\\\"\\\\\\n\"} 1\n"))
        #expect(text.contains("# TYPE meshfl_round_accuracy gauge\nmeshfl_round_accuracy{job=\"j1\"} 0.8125\n"))
        #expect(text.contains("meshfl_peers_connected 0\n"))
        #expect(text.contains("meshfl_trainers_slashed_total 0\n"), "a counter never touched is exported as 0")
        #expect(text.contains("meshfl_node_info{role=\"requester\"} 1\n"))
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.split(separator: " ").count >= 2, "sample line \(line)")
        }
    }

    @Test func servesMetricsOverHTTP() async throws {
        let metrics = NodeMetrics(role: .trainer)
        metrics.add(.tasksLeased, 5, ["job": "j"])
        let server = try await MetricsServer.start(metrics, host: "127.0.0.1", port: 0)
        defer { Task { try? await server.stop() } }
        let (status, body) = try await Self.get(port: server.port, path: "/metrics")
        #expect(status == 200)
        #expect(body.contains("meshfl_tasks_leased_total{job=\"j\"} 5\n"))
        let (missing, _) = try await Self.get(port: server.port, path: "/other")
        #expect(missing == 404)
        #expect(throws: NodeError.self) { try MetricsServer.parse("localhost") }
        let parsed = try MetricsServer.parse("127.0.0.1:9464")
        #expect(parsed.host == "127.0.0.1" && parsed.port == 9464)
    }

    /// A plain HTTP/1.0 GET over a socket: status and body.
    static func get(port: Int, path: String) async throws -> (Int, String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            response += buffer[..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
        let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        return (status, body)
    }
}
