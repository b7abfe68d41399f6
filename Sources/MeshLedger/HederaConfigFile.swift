internal import Foundation

/// A `--ledger hedera:CONFIG` file: where the Hedera network is, who the
/// coordinator (HederaLedger's operator) is, and which account this node pays
/// and signs with.
///
/// ```json
/// {"network": [{"address": "0.testnet.hedera.com:50211", "account": "0.0.3"}],
///  "mirrorNode": "https://testnet.mirrornode.hedera.com",
///  "operator": {"account": "0.0.1001", "keyFile": "operator.key"},
///  "account": {"account": "0.0.1002", "keyFile": "trainer.key"},
///  "registryTopic": "0.0.1003", "maxTransactionFee": 200000000,
///  "slashRecipient": "0.0.98", "stakeCooldownSeconds": 604800, "tls": false}
/// ```
///
/// `operator` is the coordinator: it co-signs escrow payouts, holds stakes,
/// is the slashing authority and the registry topic's submit key.
/// `account` (optional; the operator when absent) is the node's own account:
/// the requester's escrow owner or the trainer that is paid and stakes.
/// Key files hold an Ed25519 private key as 64 hex digits, as the hex of its
/// 48-byte PKCS#8 DER (`302e0201…`), as PEM (`-----BEGIN PRIVATE KEY-----`)
/// or as the raw DER bytes. Relative key paths are the config file's directory's.
/// `registryTopic` is needed for escrow and stakes; create one with
/// `meshfl ledger hedera-registry --ledger hedera:CONFIG`.
public struct HederaConfigFile: Sendable {
    /// The path the file was read from.
    public var path: String
    /// The ledger's configuration (nodes, operator, mirror node, fees, registry).
    public var configuration: HederaConfiguration
    /// The node's own account (the operator's when the file names none).
    public var account: LedgerOperator
    /// Whether to speak TLS to the node (port 50212 on Hedera).
    public var tls: Bool

    /// The keys the file may contain; any other key is an error.
    public static let knownKeys: Set<String> = [
        "network", "mirrorNode", "operator", "account", "registryTopic", "maxTransactionFee", "slashRecipient",
        "stakeCooldownSeconds", "tls",
    ]

    /// Reads and checks `path`.
    ///
    /// - Throws: `LedgerError(.invalidArgument)` whose message names the file and the field.
    public static func load(_ path: String) throws(LedgerError) -> HederaConfigFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LedgerError(.invalidArgument, "cannot read the Hedera config file \(path); pass --ledger hedera:PATH to a readable JSON file.")
        }
        return try parse(Array(data), path: path)
    }

    /// Parses the bytes of a config file; `path` names it in errors and anchors relative key paths.
    public static func parse(_ bytes: [UInt8], path: String) throws(LedgerError) -> HederaConfigFile {
        let reader = Reader(path: path)
        guard let root = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw reader.fail(nil, "is not a JSON object")
        }
        if let unknown = root.keys.sorted().first(where: { !knownKeys.contains($0) }) {
            throw reader.fail(unknown, "is not a known key; known keys: \(knownKeys.sorted().joined(separator: ", "))")
        }
        guard let network = root["network"] as? [Any], !network.isEmpty else {
            throw reader.fail("network", "should be a non-empty list of {\"address\": \"host:port\", \"account\": \"0.0.3\"}")
        }
        var nodes: [HederaConfiguration.Node] = []
        for (i, entry) in network.enumerated() {
            let field = "network[\(i)]"
            guard let object = entry as? [String: Any] else { throw reader.fail(field, "should be an object with address and account") }
            let address = try reader.string(object, "address", in: field)
            guard let colon = address.lastIndex(of: ":"), colon != address.startIndex,
                  let port = Int(address[address.index(after: colon)...]), (1...65_535).contains(port)
            else { throw reader.fail("\(field).address", "'\(address)' is not host:port (for example 0.testnet.hedera.com:50211)") }
            nodes.append(.init(address: address, account: try reader.account(object, "account", in: field)))
        }
        guard let mirror = root["mirrorNode"] as? String,
              let url = URLComponents(string: mirror), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host?.isEmpty == false
        else { throw reader.fail("mirrorNode", "should be the mirror node's REST base URL, http(s)://host[:port]") }
        let op = try reader.signer(root, "operator")
        var configuration = HederaConfiguration(nodes: nodes, operator: op, mirrorNodeURL: mirror)
        let account = root["account"] == nil ? op : try reader.signer(root, "account")
        if let fee = root["maxTransactionFee"] {
            guard let n = reader.integer(fee), n > 0 else { throw reader.fail("maxTransactionFee", "should be a positive whole number of tinybars") }
            configuration.maxTransactionFee = UInt64(n)
        }
        if root["registryTopic"] != nil {
            let text = try reader.string(root, "registryTopic", in: nil)
            do { configuration.registryTopic = try TopicID(parsing: text) } catch {
                throw reader.fail("registryTopic", "'\(text)' is not a topic id (shard.realm.num)")
            }
        }
        if root["slashRecipient"] != nil { configuration.slashRecipient = try reader.account(root, "slashRecipient", in: nil) }
        if let cooldown = root["stakeCooldownSeconds"] {
            guard let n = reader.integer(cooldown), n >= 0 else { throw reader.fail("stakeCooldownSeconds", "should be a whole number of seconds ≥ 0") }
            configuration.stakeCooldownSeconds = n
        }
        var tls = false
        if let value = root["tls"] {
            guard let flag = value as? Bool else { throw reader.fail("tls", "should be true or false") }
            tls = flag
        }
        return HederaConfigFile(path: path, configuration: configuration, account: account, tls: tls)
    }

    /// Field access with errors that name the file and the field.
    struct Reader {
        let path: String

        func fail(_ field: String?, _ problem: String) -> LedgerError {
            LedgerError(.invalidArgument, "Hedera config \(path): " + (field.map { "field \"\($0)\" " } ?? "") + problem + ".")
        }

        func string(_ object: [String: Any], _ key: String, in parent: String?) throws(LedgerError) -> String {
            let field = parent.map { "\($0).\(key)" } ?? key
            guard let value = object[key] as? String, !value.isEmpty else { throw fail(field, "should be a non-empty string") }
            return value
        }

        func account(_ object: [String: Any], _ key: String, in parent: String?) throws(LedgerError) -> AccountID {
            let text = try string(object, key, in: parent)
            do { return try AccountID(parsing: text) } catch {
                throw fail(parent.map { "\($0).\(key)" } ?? key, "'\(text)' is not an account id (shard.realm.num, for example 0.0.1001)")
            }
        }

        func integer(_ value: Any) -> Int64? {
            if let n = value as? Int { return Int64(n) }
            guard let d = value as? Double, d.rounded() == d, abs(d) < 9e15 else { return nil }
            return Int64(d)
        }

        /// `{"account": "0.0.n", "keyFile": "PATH"}` → the account and its key.
        func signer(_ root: [String: Any], _ key: String) throws(LedgerError) -> LedgerOperator {
            guard let object = root[key] as? [String: Any] else {
                throw fail(key, "should be {\"account\": \"0.0.n\", \"keyFile\": \"PATH\"}")
            }
            if let extra = object.keys.sorted().first(where: { !["account", "keyFile"].contains($0) }) {
                throw fail("\(key).\(extra)", "is not a known key; give account and keyFile")
            }
            let account = try self.account(object, "account", in: key)
            let file = try string(object, "keyFile", in: key)
            let keyPath = file.hasPrefix("/") ? file
                : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(file).standardizedFileURL.path
            guard let bytes = FileManager.default.contents(atPath: keyPath) else {
                throw fail("\(key).keyFile", "cannot read \(keyPath)")
            }
            do { return LedgerOperator(account: account, key: try Ed25519PrivateKey(keyFile: Array(bytes))) } catch {
                throw fail("\(key).keyFile", "\(keyPath): \(error.message)")
            }
        }
    }
}

extension Ed25519PrivateKey {
    /// The PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows.
    static let pkcs8Prefix: [UInt8] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]

    /// A key from a key file: hex (seed or PKCS#8 DER), PEM `PRIVATE KEY`, or raw PKCS#8 DER.
    public init(keyFile bytes: [UInt8]) throws(LedgerError) {
        if bytes.count == 48, bytes.starts(with: Self.pkcs8Prefix) {
            try self.init(rawRepresentation: bytes.dropFirst(16))
            return
        }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("-----BEGIN PRIVATE KEY-----") {
            let body = text.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("-----") }.joined()
            guard let der = Data(base64Encoded: body), der.count == 48, Array(der).starts(with: Self.pkcs8Prefix) else {
                throw LedgerError(.invalidArgument, "the PEM block is not an Ed25519 PKCS#8 private key (48 bytes of DER).")
            }
            try self.init(rawRepresentation: Array(der).dropFirst(16))
            return
        }
        guard !text.isEmpty else { throw LedgerError(.invalidArgument, "the key file is empty.") }
        try self.init(hex: text)
    }

    /// The key as PEM (PKCS#8), the form `openssl genpkey -algorithm ed25519` writes.
    public var pem: String {
        let der = Data(Self.pkcs8Prefix + rawRepresentation).base64EncodedString()
        return "-----BEGIN PRIVATE KEY-----\n\(der)\n-----END PRIVATE KEY-----\n"
    }
}
