import Foundation
import MeshLedger
import MeshLedgerNetwork

/// Where a node's ledger is: `local:PATH` (a SQLite file) or `hedera:CONFIG`
/// (a JSON file naming a Hedera network, see `HederaConfigFile`) — the value
/// of `--ledger`, `MESHFL_LEDGER` and the config file's `ledger`.
///
/// ```swift
/// let ledger = try await LedgerLocation(parsing: "local:/tmp/dev.ledger").open()
/// ```
public enum LedgerLocation: Sendable, Hashable, CustomStringConvertible {
    /// A local SQLite ledger file.
    case local(path: String)
    /// A Hedera network described by a config file.
    case hedera(config: String)

    /// Parses `local:PATH` or `hedera:CONFIG`.
    ///
    /// - Throws: ``NodeError/Code/invalidInput`` saying what is expected.
    public init(parsing text: String) throws(NodeError) {
        if text.hasPrefix("local:") {
            let path = String(text.dropFirst("local:".count))
            guard !path.isEmpty else { throw NodeError(.invalidInput, "ledger \(text): local: needs a path, e.g. local:/tmp/dev.ledger") }
            self = .local(path: path)
        } else if text.hasPrefix("hedera:") {
            let path = String(text.dropFirst("hedera:".count))
            guard !path.isEmpty else { throw NodeError(.invalidInput, "ledger \(text): hedera: needs a config file, e.g. hedera:hedera.json") }
            self = .hedera(config: path)
        } else {
            throw NodeError(.invalidInput, "ledger \(text): expected local:PATH or hedera:CONFIG")
        }
    }

    /// `local:PATH` or `hedera:CONFIG`.
    public var description: String {
        switch self {
        case .local(let path): "local:\(path)"
        case .hedera(let config): "hedera:\(config)"
        }
    }

    /// Reads a `hedera:` config file without connecting (a `local:` location has nothing to check).
    ///
    /// - Throws: ``NodeError/Code/invalidInput`` naming the file and the field.
    public func check() throws(NodeError) {
        if case .hedera(let config) = self { _ = try Self.load(config) }
    }

    static func load(_ config: String) throws(NodeError) -> HederaConfigFile {
        do { return try HederaConfigFile.load(config) } catch {
            throw NodeError(.invalidInput, error.message)
        }
    }

    /// Opens the ledger: creates the local file (and its directory) if missing, or
    /// reads the Hedera config and prepares the connection (dialled on first use).
    public func open() async throws -> any NodeLedger {
        switch self {
        case .local(let path):
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            do { return try LocalLedger(path: path) } catch {
                throw NodeError(.invalidInput, "cannot open the ledger \(path): \(error); pass --ledger local:PATH")
            }
        case .hedera(let config):
            let file = try Self.load(config)
            do { return HederaNodeLedger(network: try HederaNetworkLedger(file: file)) } catch {
                throw NodeError(.invalidInput, "Hedera config \(config): \(error.message)")
            }
        }
    }
}
