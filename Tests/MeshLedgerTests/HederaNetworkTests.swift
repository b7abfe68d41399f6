import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Testing
@testable import MeshLedger
@testable import MeshLedgerNetwork

/// `HederaLedger` over real sockets on 127.0.0.1: gRPC over HTTP/2 to a
/// `LocalHAPIService`, mirror-node reads over HTTP/1.1 from a local server.
struct HederaNetworkTests {
    /// Runs `body` with a HederaLedger on an HTTP/2 connection and an HTTP mirror, both on 127.0.0.1.
    static func withNetworkHedera<R: Sendable>(
        _ t: TestLedger, operator op: LedgerOperator, mirrorServer: LocalMirrorHTTPServer,
        _ body: @Sendable (HederaLedger<HTTP2ClientTransport.Posix>) async throws -> R
    ) async throws -> R {
        let serverTransport = HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext)
        return try await withGRPCServer(transport: serverTransport, services: [LocalHAPIService(ledger: t.ledger)]) { _ in
            let port = try #require(try await serverTransport.listeningAddress.ipv4?.port)
            let node = HederaConfiguration.Node(address: "127.0.0.1:\(port)", account: AccountID(num: 3))
            return try await mirrorServer.serve { mirrorURL in
                try await withGRPCClient(transport: try HederaNodeTransport.make(for: node)) { client in
                    var config = HederaConfiguration(nodes: [node], operator: op, mirrorNodeURL: mirrorURL)
                    config.receiptInterval = .milliseconds(5)
                    config.receiptAttempts = 20
                    config.callTimeout = .seconds(20)
                    config.clock = t.clock.read
                    let mirror = try MirrorNodeHTTPClient(baseURL: mirrorURL, timeout: .seconds(20))
                    return try await body(HederaLedger(client: client, configuration: config, mirror: mirror))
                }
            }
        }
    }

    @Test func topicsPagingTransfersAndEscrowOverHTTP2AndHTTP() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let op = try await t.ledger.createFundedAccount(balance: 1_000_000)
        let bob = try await t.ledger.createFundedAccount(balance: 0)
        let server = LocalMirrorHTTPServer(mirror: LocalMirrorNode(ledger: t.ledger))
        try await Self.withNetworkHedera(t, operator: op, mirrorServer: server) { hedera in
            let topic = try await hedera.createTopic(memo: "net audit", submitKey: nil, payer: op)
            for i in 1...105 {
                let r = try await hedera.submitMessage(Array("round \(i)".utf8), to: topic, payer: op)
                #expect(r.first?.topicSequenceNumber == Int64(i))
            }
            // 105 messages come back in two mirror pages, the second through the page's `links.next`.
            let read = try await hedera.messages(topic: topic, from: 1, limit: 200)
            #expect(read.map(\.sequenceNumber) == Array(1...105))
            #expect(read.last?.contents == Array("round 105".utf8))
            #expect(server.requests.contains { $0.contains("/api/v1/topics/\(topic)/messages?sequencenumber=gte:101") })
            #expect(try await hedera.verifyTopic(topic).isOK)

            try await hedera.transfer(250, from: op, to: bob.account)
            #expect(try await hedera.balance(of: bob.account) == 250)
            #expect(server.requests.contains("/api/v1/balances?account.id=\(bob.account)"))

            // Escrow: threshold account and scheduled transfer, over the same sockets.
            var config = hedera.configuration
            config.registryTopic = try await hedera.createRegistryTopic()
            // A second instance issues its own valid starts: move the frozen test clock past the first one's.
            t.clock.advance(seconds: 1)
            let escrow = HederaLedger(client: hedera.client, configuration: config, mirror: hedera.mirror)
            try await escrow.lockEscrow(job: "net-job", amount: 400, owner: op)
            let paid = try await escrow.releaseEscrow(job: "net-job", task: "t", to: bob.account, amount: 150, owner: op)
            #expect(paid.scheduledTransactionID?.scheduled == true)
            #expect(try await escrow.balance(of: bob.account) == 400)
        }
        #expect(try await t.ledger.verify().isOK)
    }

    @Test func mirrorClientErrorsNameTheURLAndStatus() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let server = LocalMirrorHTTPServer(mirror: LocalMirrorNode(ledger: t.ledger))
        try await server.serve { url in
            let mirror = try MirrorNodeHTTPClient(baseURL: url, timeout: .seconds(10))
            let missing = await #expect(throws: LedgerError.self) { _ = try await mirror.get("/api/v1/topics/0.0.999/messages?limit=1") }
            #expect(missing?.code == .notFound)
            #expect(missing?.message.contains("404") == true)
            #expect(missing?.message.contains("/api/v1/topics/0.0.999/messages") == true)
            let body = try await mirror.get("/api/v1/balances?account.id=0.0.2")
            #expect(String(decoding: body, as: UTF8.self).contains("\"0.0.2\""))
        }
        let bad = #expect(throws: LedgerError.self) { _ = try MirrorNodeHTTPClient(baseURL: "ftp://mirror.example") }
        #expect(bad?.code == .invalidArgument)
        // Nothing listens on port 1: the connection is refused and the error says where.
        let refused = await #expect(throws: LedgerError.self) {
            _ = try await MirrorNodeHTTPClient(baseURL: "http://127.0.0.1:1", timeout: .seconds(10)).get("/api/v1/balances")
        }
        #expect(refused?.message.contains("http://127.0.0.1:1") == true)
    }

    @Test func unreachableNodeFailsWithinTheCallTimeout() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let op = try await t.ledger.createFundedAccount(balance: 10)
        let node = HederaConfiguration.Node(address: "127.0.0.1:1", account: AccountID(num: 3))
        try await withGRPCClient(transport: try HederaNodeTransport.make(for: node)) { client in
            var config = HederaConfiguration(nodes: [node], operator: op, mirrorNodeURL: "http://127.0.0.1:1")
            config.callTimeout = .seconds(2)
            let hedera = HederaLedger(client: client, configuration: config, mirror: LocalMirrorNode(ledger: t.ledger))
            let e = await #expect(throws: LedgerError.self) { _ = try await hedera.createTopic(memo: "", submitKey: nil, payer: op) }
            #expect(e?.message.contains("check the node address") == true)
        }
    }

    @Test(arguments: ["no-port", "host:0", ":50211", "host:99999", "host:abc"])
    func badNodeAddressesAreRefused(_ address: String) {
        let e = #expect(throws: LedgerError.self) { _ = try HederaNodeTransport.parse(address) }
        #expect(e?.message.contains(address) == true)
    }

    @Test func nodeAddressesParse() throws {
        #expect(try HederaNodeTransport.parse("0.testnet.hedera.com:50211") == ("0.testnet.hedera.com", 50211))
        #expect(HederaNodeTransport.isIPv4("127.0.0.1"))
        #expect(!HederaNodeTransport.isIPv4("0.testnet.hedera.com"))
    }
}
