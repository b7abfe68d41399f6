public import Crypto
public import Foundation
public import Libp2p
public import MeshLedger
public import MeshStorage

/// A node's data directory: its identity key, its sealing key, its ledger
/// account, its block store and its SQLite state. Everything a node needs to
/// restart where it stopped lives here.
///
///     DIR/identity.key        libp2p PrivateKey protobuf (Ed25519)
///     DIR/sealing.key         X25519 private key (32 bytes) results are sealed to
///     DIR/ledger-account.json {"account": "0.0.n", "key": "<hex Ed25519 seed>"}
///     DIR/blocks/             content-addressed block store (objects, presigned server)
///     DIR/node.sqlite         requester state: jobs, tasks, updates, rounds
public struct NodeDirectory: Sendable {
    public let url: URL

    public init(_ path: String) throws {
        url = URL(fileURLWithPath: path, isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw NodeError(.storage, "cannot create the data directory \(path): \(error.localizedDescription); pass a writable --data-dir")
        }
    }

    public var statePath: String { url.appendingPathComponent("node.sqlite").path }
    public var blocksURL: URL { url.appendingPathComponent("blocks", isDirectory: true) }

    /// The node's libp2p identity, created on first use.
    public func identity() throws -> PrivateKey {
        do { return try PrivateKey.loadOrCreate(atPath: url.appendingPathComponent("identity.key").path) } catch {
            throw NodeError(.storage, "identity key in \(url.path): \(error)")
        }
    }

    /// The X25519 key results are sealed to, created on first use.
    public func sealingKey() throws -> Curve25519.KeyAgreement.PrivateKey {
        let path = url.appendingPathComponent("sealing.key").path
        if let data = FileManager.default.contents(atPath: path) {
            do { return try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: data) } catch {
                throw NodeError(.storage, "\(path) is not a 32-byte X25519 key; delete it to make a new one (results sealed to the old key become unreadable)")
            }
        }
        let key = Curve25519.KeyAgreement.PrivateKey()
        try writeSecret(key.rawRepresentation, to: path)
        return key
    }

    /// The node's ledger account, created and funded by the dev faucet of a
    /// local ledger on first use.
    public func ledgerAccount(on ledger: LocalLedger, funding: Int64) async throws -> LedgerOperator {
        let path = url.appendingPathComponent("ledger-account.json").path
        struct Stored: Codable { var account: String; var key: String }
        if let data = FileManager.default.contents(atPath: path) {
            do {
                let stored = try JSONDecoder().decode(Stored.self, from: data)
                return LedgerOperator(account: try AccountID(parsing: stored.account), key: try Ed25519PrivateKey(hex: stored.key))
            } catch {
                throw NodeError(.storage, "\(path) is unreadable (\(error)); delete it to create a new funded dev account")
            }
        }
        let created = try await ledger.createFundedAccount(balance: funding)
        let stored = Stored(account: created.account.description,
                            key: created.key.rawRepresentation.map { String(format: "%02x", $0) }.joined())
        try writeSecret(try CanonicalJSON.encode(stored), to: path)
        return created
    }

    /// The node's block store and its object layer (for presigned URLs).
    /// `endpoint` is where its presigned server listens (needed to presign).
    /// Puts the block store at `target` for this data directory and every
    /// command that uses it (`submit`, `fetch`, …): `blocks` becomes a
    /// symbolic link to `target` (created if missing). Refuses, naming both
    /// places, when the data directory already keeps objects elsewhere.
    public func placeBlocks(at target: URL) throws {
        let manager = FileManager.default
        let target = target.standardizedFileURL
        let link = blocksURL.path
        if let current = try? manager.destinationOfSymbolicLink(atPath: link) {
            let resolved = URL(fileURLWithPath: current, relativeTo: url).standardizedFileURL
            guard resolved.path == target.path else {
                throw NodeError(.invalidInput, "storage local:\(target.path): the data directory \(url.path) keeps its objects in \(resolved.path) "
                    + "(blocks links there); move them to \(target.path) and relink, or use local:\(resolved.path)")
            }
            return
        }
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: link, isDirectory: &isDirectory) {
            if URL(fileURLWithPath: link).resolvingSymlinksInPath().path == target.resolvingSymlinksInPath().path { return }
            guard isDirectory.boolValue, Self.holdsNoFiles(link) else {
                throw NodeError(.invalidInput, "storage local:\(target.path): the data directory \(url.path) already keeps objects in \(link); "
                    + "move that directory to \(target.path) (then run again), or drop the directory from local:")
            }
            try manager.removeItem(atPath: link)
        }
        do {
            try manager.createDirectory(at: target, withIntermediateDirectories: true)
            try manager.createSymbolicLink(atPath: link, withDestinationPath: target.path)
        } catch {
            throw NodeError(.storage, "cannot put the block store at \(target.path) (linked from \(link)): \(error)")
        }
    }

    /// True when the directory tree at `path` contains no regular files.
    static func holdsNoFiles(_ path: String) -> Bool {
        guard let entries = FileManager.default.enumerator(atPath: path) else { return true }
        for case let entry as String in entries {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path + "/" + entry, isDirectory: &isDirectory), !isDirectory.boolValue { return false }
        }
        return true
    }

    public func blobStore(endpoint: URL? = nil) throws -> LocalBlobStore {
        let blocks = try BlockStore(directory: blocksURL)
        return try LocalBlobStore(blocks: blocks, endpoint: endpoint, credentials: try LocalBlobStore.nodeCredentials(in: url))
    }

    func writeSecret(_ data: Data, to path: String) throws {
        let temp = path + ".tmp"
        guard FileManager.default.createFile(atPath: temp, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw NodeError(.storage, "cannot write \(temp); is the data directory writable?")
        }
        guard rename(temp, path) == 0 else { throw NodeError(.storage, "cannot move \(temp) into place") }
    }
}
