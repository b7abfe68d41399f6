public import Foundation
public import Libp2p

/// A value signed by a peer's identity key: the canonical JSON of the payload
/// (sorted keys), the signer's peer id and an Ed25519 signature over
/// `"meshfl-signed:" ‖ payload`. Job specs and receipts travel in this form,
/// so anyone holding one can check who said what: the peer id embeds the key.
public struct SignedMessage<Payload: Codable & Sendable>: Codable, Sendable {
    /// The canonical JSON bytes that were signed.
    public var payload: Data
    /// The signer's peer id (base58btc); its identity multihash carries the public key.
    public var signer: String
    /// Ed25519 signature over the domain tag and `payload`.
    public var signature: Data

    static var domain: [UInt8] { Array("meshfl-signed:".utf8) }

    /// Signs `value` with `key`.
    public init(signing value: Payload, with key: PrivateKey) throws {
        payload = try CanonicalJSON.encode(value)
        signer = key.peerID.description
        signature = Data(key.sign(Self.domain + Array(payload)))
    }

    /// The payload, after checking the signature against the signer's key.
    ///
    /// - Throws: ``NodeError`` `.badSignature` when the peer id is unreadable,
    ///   does not embed an Ed25519 key, or the signature does not verify;
    ///   `.malformed` when the payload does not decode.
    public func verified() throws -> Payload {
        let peer: PeerID
        do { peer = try PeerID(string: signer) } catch {
            throw NodeError(.badSignature, "signer '\(signer)' is not a peer id")
        }
        guard let key = peer.publicKey else {
            throw NodeError(.badSignature, "signer \(signer) does not embed its public key; only Ed25519 peer ids can sign")
        }
        guard key.verify(signature: Array(signature), for: Self.domain + Array(payload)) else {
            throw NodeError(.badSignature, "signature by \(signer) does not verify: forged or altered")
        }
        do {
            return try JSONDecoder().decode(Payload.self, from: payload)
        } catch {
            throw NodeError(.malformed, "signed \(Payload.self) from \(signer) does not decode: \(error)")
        }
    }
}

/// Sorted-key JSON without escaped slashes: one byte string per value.
public enum CanonicalJSON {
    public static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}
