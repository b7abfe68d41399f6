internal import Crypto
internal import Foundation

/// An Ed25519 signing key (32-byte seed, RFC 8032).
///
/// ```swift
/// let key = Ed25519PrivateKey()
/// let signature = key.signature(for: bodyBytes)
/// ```
public struct Ed25519PrivateKey: Sendable {
    private let key: Curve25519.Signing.PrivateKey

    /// A fresh random key.
    public init() {
        key = Curve25519.Signing.PrivateKey()
    }

    /// A key from its 32-byte seed; throws `invalidArgument` for another length.
    public init(rawRepresentation bytes: some Collection<UInt8>) throws(LedgerError) {
        do {
            key = try Curve25519.Signing.PrivateKey(rawRepresentation: Array(bytes))
        } catch {
            throw LedgerError(.invalidArgument, "an Ed25519 private key is 32 bytes, got \(bytes.count).", cause: error)
        }
    }

    /// A key from 64 hex digits (an optional DER prefix `302e020100300506032b657004220420` is accepted).
    public init(hex: String) throws(LedgerError) {
        guard var bytes = HexCoding.decode(hex) else {
            throw LedgerError(.invalidArgument, "the private key is not hex; give the 32-byte seed as 64 hex digits.")
        }
        if bytes.count == 48, bytes.starts(with: HexCoding.decode("302e020100300506032b657004220420")!) {
            bytes.removeFirst(16)
        }
        try self.init(rawRepresentation: bytes)
    }

    /// The 32-byte seed. Keep it secret.
    public var rawRepresentation: [UInt8] { Array(key.rawRepresentation) }

    /// The matching public key.
    public var publicKey: Ed25519PublicKey { Ed25519PublicKey(trusted: Array(key.publicKey.rawRepresentation)) }

    /// The 64-byte Ed25519 signature of `message` (deterministic, RFC 8032).
    public func signature(for message: some Collection<UInt8>) -> [UInt8] {
        // BoringSSL's Ed25519 cannot fail for a valid key.
        Array(try! key.signature(for: Data(message)))
    }
}
