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
