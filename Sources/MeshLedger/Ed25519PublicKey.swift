internal import Crypto
internal import Foundation

/// An Ed25519 public key (32 bytes).
public struct Ed25519PublicKey: Hashable, Sendable, CustomStringConvertible {
    /// The 32 raw key bytes.
    public let rawRepresentation: [UInt8]

    /// A key from 32 raw bytes; throws `invalidArgument` if they are not a valid point encoding length.
    public init(rawRepresentation bytes: some Collection<UInt8>) throws(LedgerError) {
        guard bytes.count == 32, (try? Curve25519.Signing.PublicKey(rawRepresentation: Array(bytes))) != nil else {
            throw LedgerError(.invalidArgument, "an Ed25519 public key is 32 bytes, got \(bytes.count).")
        }
        rawRepresentation = Array(bytes)
    }

    /// A key from 64 hex digits (an optional DER prefix `302a300506032b6570032100` is accepted).
    public init(hex: String) throws(LedgerError) {
        guard var bytes = HexCoding.decode(hex) else {
            throw LedgerError(.invalidArgument, "the public key is not hex; give it as 64 hex digits.")
        }
        if bytes.count == 44, bytes.starts(with: HexCoding.decode("302a300506032b6570032100")!) {
            bytes.removeFirst(12)
        }
        try self.init(rawRepresentation: bytes)
    }

    init(trusted bytes: [UInt8]) {
        rawRepresentation = bytes
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    public func isValidSignature(_ signature: some Collection<UInt8>, for message: some Collection<UInt8>) -> Bool {
        guard signature.count == 64,
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation)
        else { return false }
        return key.isValidSignature(Data(signature), for: Data(message))
    }

    /// The key in lowercase hex.
    public var description: String { HexCoding.encode(rawRepresentation) }
}
