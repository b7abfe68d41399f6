import Foundation
import Testing
@testable import MeshLedger

/// `--ledger hedera:CONFIG` files: every field read, key files in each
/// accepted form, and errors that name the file and the field.
struct HederaConfigFileTests {
    static let seed = Fixture.rfc8032Secret
    static let der = "302e020100300506032b657004220420" + seed

    func write(_ files: [String: [UInt8]]) throws -> URL {
        let dir = try Fixture.tempDirectory()
        for (name, bytes) in files { try Data(bytes).write(to: dir.appendingPathComponent(name)) }
        return dir
    }

    @Test func readsEveryField() throws {
        let dir = try write(["op.key": Array((Self.seed + "\n").utf8), "me.pem": Array(try Ed25519PrivateKey(hex: Self.seed).pem.utf8)])
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = #"""
            {"network": [{"address": "127.0.0.1:50211", "account": "0.0.3"}, {"address": "node.example:50212", "account": "0.0.4"}],
             "mirrorNode": "http://127.0.0.1:5551", "operator": {"account": "0.0.1001", "keyFile": "op.key"},
             "account": {"account": "0.0.1002", "keyFile": "me.pem"}, "registryTopic": "0.0.1003", "maxTransactionFee": 150000000,
             "slashRecipient": "0.0.98", "stakeCooldownSeconds": 60, "tls": true}
            """#
        let file = try HederaConfigFile.parse(Array(json.utf8), path: dir.appendingPathComponent("h.json").path)
        #expect(file.configuration.nodes.map(\.address) == ["127.0.0.1:50211", "node.example:50212"])
        #expect(file.configuration.nodes.map(\.account) == [AccountID(num: 3), AccountID(num: 4)])
        #expect(file.configuration.mirrorNodeURL == "http://127.0.0.1:5551")
        #expect(file.configuration.operator.account == AccountID(num: 1001))
        #expect(file.configuration.operator.key.publicKey.rawRepresentation == Fixture.hex(Fixture.rfc8032Public))
        #expect(file.account.account == AccountID(num: 1002))
        #expect(file.account.key.rawRepresentation == Fixture.hex(Self.seed))
        #expect(file.configuration.registryTopic == TopicID(num: 1003))
        #expect(file.configuration.maxTransactionFee == 150_000_000)
        #expect(file.configuration.slashRecipient == AccountID(num: 98))
        #expect(file.configuration.stakeCooldownSeconds == 60)
        #expect(file.tls)
    }

    @Test(arguments: ["hex", "der-hex", "pem", "der"])
    func keyFilesInEachForm(_ form: String) throws {
        let key = try Ed25519PrivateKey(hex: Self.seed)
        let bytes: [UInt8] = switch form {
        case "hex": Array("0x\(Self.seed)".utf8)
        case "der-hex": Array(Self.der.uppercased().utf8)
        case "pem": Array(key.pem.utf8)
        default: Fixture.hex(Self.der)
        }
        #expect(try Ed25519PrivateKey(keyFile: bytes).rawRepresentation == key.rawRepresentation)
    }

    @Test func withoutAnAccountTheNodeIsTheOperator() throws {
        let dir = try write(["op.key": Array(Self.seed.utf8)])
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = #"{"network": [{"address": "h:1", "account": "0.0.3"}], "mirrorNode": "https://m.example", "operator": {"account": "0.0.7", "keyFile": "op.key"}}"#
        let file = try HederaConfigFile.parse(Array(json.utf8), path: dir.appendingPathComponent("h.json").path)
        #expect(file.account.account == AccountID(num: 7))
        #expect(file.configuration.registryTopic == nil)
        #expect(!file.tls)
    }

    @Test(arguments: [
        (#"[]"#, "is not a JSON object"),
        (#"{"network": [{"address": "h:1", "account": "0.0.3"}], "operator": {"account": "0.0.7", "keyFile": "op.key"}}"#, #"field "mirrorNode""#),
        (#"{"network": [{"address": "h:1", "account": "0.0.3"}], "mirrorNode": "ftp://x", "operator": {"account": "0.0.7", "keyFile": "op.key"}}"#, #"field "mirrorNode""#),
        (#"{"network": [{"address": "h", "account": "0.0.3"}], "mirrorNode": "http://m", "operator": {"account": "0.0.7", "keyFile": "op.key"}}"#, #"field "network[0].address""#),
        (#"{"network": [{"address": "h:1", "account": "3"}], "mirrorNode": "http://m", "operator": {"account": "0.0.7", "keyFile": "op.key"}}"#, #"field "network[0].account""#),
        (#"{"network": [{"address": "h:1", "account": "0.0.3"}], "mirrorNode": "http://m", "operator": {"account": "0.0.7"}}"#, #"field "operator.keyFile""#),
        (#"{"network": [{"address": "h:1", "account": "0.0.3"}], "mirrorNode": "http://m", "operator": {"account": "0.0.7", "keyFile": "nope.key"}}"#, #"field "operator.keyFile""#),
        (#"{"network": [{"address": "h:1", "account": "0.0.3"}], "mirrorNode": "http://m", "operator": {"account": "0.0.7", "keyFile": "op.key"}, "account": {"account": "0.0.8", "keyFile": "short.key"}}"#, #"field "account.keyFile""#),
        (#"{"network": [{"address": "h:1", "account": "0.0.3"}], "mirrorNode": "http://m", "operator": {"account": "0.0.7", "keyFile": "op.key"}, "maxTransactionFee": -1}"#, #"field "maxTransactionFee""#),
        (#"{"network": [{"address": "h:1", "account": "0.0.3"}], "mirrorNode": "http://m", "operator": {"account": "0.0.7", "keyFile": "op.key"}, "tls": "yes"}"#, #"field "tls""#),
        (#"{"network": [{"address": "h:1", "account": "0.0.3"}], "mirrorNode": "http://m", "operator": {"account": "0.0.7", "keyFile": "op.key"}, "registry": "0.0.9"}"#, #"field "registry" is not a known key"#),
    ] as [(String, String)])
    func errorsNameTheFileAndField(_ json: String, _ expected: String) throws {
        let dir = try write(["op.key": Array(Self.seed.utf8), "short.key": Array("abcd".utf8)])
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.json").path
        let error = #expect(throws: LedgerError.self) { _ = try HederaConfigFile.parse(Array(json.utf8), path: path) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(path) == true && error?.message.contains(expected) == true, "\(error?.message ?? "")")
    }
}
