public import Foundation

/// `meshfl node` settings from one source — a JSON config file, the
/// environment or the command line; every field may be absent.
///
/// Sources are layered with ``overriding(_:)``: the command line over the
/// environment over the config file over the defaults.
///
/// ```json
/// {"role": "trainer", "bootstrap": ["/ip4/10.0.0.5/tcp/4001/p2p/12D3KooW…"],
///  "ledger": "local:dev.ledger", "cores": 2, "metrics": "127.0.0.1:9464", "logFormat": "json"}
/// ```
public struct NodeConfiguration: Codable, Sendable, Equatable {
    public var role: String?
    public var dataDir: String?
    public var listen: [String]?
    public var bootstrap: [String]?
    public var ledger: String?
    public var storage: String?
    public var cores: Int?
    public var stake: Int64?
    /// `HOST:PORT` of the Prometheus `/metrics` endpoint.
    public var metrics: String?
    public var logLevel: String?
    /// `text` or `json`.
    public var logFormat: String?
    /// Scheduling priority, 0 (normal) to 19 (lowest); see ``ProcessPriority``.
    public var nice: Int?

    /// No settings.
    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case role, dataDir, listen, bootstrap, ledger, storage, cores, stake, metrics, logLevel, logFormat, nice
    }

    /// The environment variable of each setting (`MESHFL_DATA_DIR` is also the
    /// data directory of every other command).
    public static let environmentNames: [(variable: String, key: String)] = [
        ("MESHFL_ROLE", "role"), ("MESHFL_DATA_DIR", "dataDir"), ("MESHFL_LISTEN", "listen"), ("MESHFL_BOOTSTRAP", "bootstrap"),
        ("MESHFL_LEDGER", "ledger"), ("MESHFL_STORAGE", "storage"), ("MESHFL_CORES", "cores"), ("MESHFL_STAKE", "stake"),
        ("MESHFL_METRICS", "metrics"), ("MESHFL_LOG_LEVEL", "logLevel"), ("MESHFL_LOG_FORMAT", "logFormat"), ("MESHFL_NICE", "nice"),
    ]

    /// Reads a config file. Unknown keys are an error (a misspelt setting
    /// must not be ignored silently); relative paths in `dataDir`,
    /// `ledger: local:PATH|hedera:CONFIG` and `storage: local:DIR` / `s3:CONFIG` are taken relative to the
    /// file's directory.
    ///
    /// - Throws: ``NodeError/Code/invalidInput`` naming the file and the key.
    public static func load(_ path: String) throws -> NodeConfiguration {
        let url = URL(fileURLWithPath: path)
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw NodeError(.invalidInput, "cannot read the config file \(path): \(error.localizedDescription)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw NodeError(.invalidInput, "config file \(path) is not a JSON object; see `meshfl node --help` for its keys")
        }
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw NodeError(.invalidInput, "config file \(path): unknown key \"\(unknown)\"; known keys: \(known.sorted().joined(separator: ", "))")
        }
        var configuration: NodeConfiguration
        do { configuration = try JSONDecoder().decode(NodeConfiguration.self, from: data) } catch let DecodingError.typeMismatch(type, context) {
            throw NodeError(.invalidInput, "config file \(path): \(context.codingPath.map(\.stringValue).joined(separator: ".")) should be \(Self.describe(type))")
        } catch {
            throw NodeError(.invalidInput, "config file \(path): \(error)")
        }
        let base = url.deletingLastPathComponent()
        func resolve(_ path: String) -> String {
            path.hasPrefix("/") || path.hasPrefix("~") ? path : base.appendingPathComponent(path).standardizedFileURL.path
        }
        configuration.dataDir = configuration.dataDir.map(resolve)
        for keyPath in [\NodeConfiguration.ledger, \NodeConfiguration.storage] {
            for scheme in ["local:", "s3:", "hedera:"] {
                if let value = configuration[keyPath: keyPath], value.hasPrefix(scheme), value.count > scheme.count {
                    configuration[keyPath: keyPath] = scheme + resolve(String(value.dropFirst(scheme.count)))
                }
            }
        }
        return configuration
    }

    /// Reads the `MESHFL_*` variables of ``environmentNames``; lists
    /// (`MESHFL_LISTEN`, `MESHFL_BOOTSTRAP`) are separated by commas or spaces.
    ///
    /// - Throws: ``NodeError/Code/invalidInput`` naming the variable.
    public static func environment(_ variables: [String: String]) throws -> NodeConfiguration {
        var configuration = NodeConfiguration()
        func value(_ name: String) -> String? {
            guard let text = variables[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        func list(_ name: String) -> [String]? {
            value(name).map { $0.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init) }
        }
        func number<T: FixedWidthInteger>(_ name: String, _: T.Type) throws -> T? {
            guard let text = value(name) else { return nil }
            guard let number = T(text) else { throw NodeError(.invalidInput, "\(name)=\(text): expected a whole number") }
            return number
        }
        configuration.role = value("MESHFL_ROLE")
        configuration.dataDir = value("MESHFL_DATA_DIR")
        configuration.listen = list("MESHFL_LISTEN")
        configuration.bootstrap = list("MESHFL_BOOTSTRAP")
        configuration.ledger = value("MESHFL_LEDGER")
        configuration.storage = value("MESHFL_STORAGE")
        configuration.cores = try number("MESHFL_CORES", Int.self)
        configuration.stake = try number("MESHFL_STAKE", Int64.self)
        configuration.metrics = value("MESHFL_METRICS")
        configuration.logLevel = value("MESHFL_LOG_LEVEL")
        configuration.logFormat = value("MESHFL_LOG_FORMAT")
        configuration.nice = try number("MESHFL_NICE", Int.self)
        return configuration
    }

    /// These settings with every field `other` sets taken from `other`.
    public func overriding(_ other: NodeConfiguration) -> NodeConfiguration {
        var merged = self
        merged.role = other.role ?? role
        merged.dataDir = other.dataDir ?? dataDir
        merged.listen = other.listen ?? listen
        merged.bootstrap = other.bootstrap ?? bootstrap
        merged.ledger = other.ledger ?? ledger
        merged.storage = other.storage ?? storage
        merged.cores = other.cores ?? cores
        merged.stake = other.stake ?? stake
        merged.metrics = other.metrics ?? metrics
        merged.logLevel = other.logLevel ?? logLevel
        merged.logFormat = other.logFormat ?? logFormat
        merged.nice = other.nice ?? nice
        return merged
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "a whole number"
        case is [String].Type, is [Any].Type: "a list of strings"
        default: "a \(type)"
        }
    }
}
