public import Crypto

/// A host's Noise static key and the identity-signed handshake payload that vouches for it.
///
/// Made once per host and reused by every handshake (as rust-libp2p does): the payload's Ed25519
/// signature covers only the static key, so signing it again per connection would buy nothing.
public struct NoiseCredentials: Sendable {
    /// The static X25519 key.
    let staticKey: Curve25519.KeyAgreement.PrivateKey
    /// Its raw public key.
    let staticPublicKey: [UInt8]
    /// The `NoiseHandshakePayload` protobuf: the identity key and its signature over the static key.
    let payload: [UInt8]

    /// Credentials for `identity` with `staticKey` (fresh by default).
    public init(identity: PrivateKey, staticKey: Curve25519.KeyAgreement.PrivateKey = .init()) {
        self.staticKey = staticKey
        staticPublicKey = Array(staticKey.publicKey.rawRepresentation)
        payload = NoiseHandshakePayload(identity: identity, staticKey: staticPublicKey).protobufBytes
    }
}
