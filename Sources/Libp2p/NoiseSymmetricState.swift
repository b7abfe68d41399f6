import Crypto

/// The Noise SymmetricState (chaining key, handshake hash, optional cipher) for SHA-256.
struct NoiseSymmetricState: Sendable {
    static let protocolName = "Noise_XX_25519_ChaChaPoly_SHA256"

    private(set) var chainingKey: [UInt8]
    private(set) var handshakeHash: [UInt8]
    private var cipher: NoiseCipherState?

    init(prologue: [UInt8] = []) {
        let name = Array(Self.protocolName.utf8)
        // A name of exactly 32 bytes is used as the initial hash directly (it needs no padding).
        let h = name.count <= 32 ? name + [UInt8](repeating: 0, count: 32 - name.count) : Array(SHA256.hash(data: name))
        chainingKey = h
        handshakeHash = h
        mixHash(prologue)
    }

    mutating func mixHash(_ data: [UInt8]) {
        var hasher = SHA256()
        hasher.update(data: handshakeHash)
        hasher.update(data: data)
        handshakeHash = Array(hasher.finalize())
    }

    mutating func mixKey(_ inputKeyMaterial: [UInt8]) {
        let (ck, k) = Self.hkdf(chainingKey: chainingKey, inputKeyMaterial: inputKeyMaterial)
        chainingKey = ck
        cipher = NoiseCipherState(key: k)
    }

    mutating func encryptAndHash(_ plaintext: [UInt8]) throws(Libp2pError) -> [UInt8] {
        let out: [UInt8]
        if var c = cipher {
            out = try c.encrypt(plaintext, ad: handshakeHash)
            cipher = c
        } else {
            out = plaintext
        }
        mixHash(out)
        return out
    }

    mutating func decryptAndHash(_ ciphertext: [UInt8]) throws(Libp2pError) -> [UInt8] {
        let out: [UInt8]
        if var c = cipher {
            out = try c.decrypt(ciphertext, ad: handshakeHash)
            cipher = c
        } else {
            out = ciphertext
        }
        mixHash(ciphertext)
        return out
    }

    /// Whether a key has been mixed in (so payloads are encrypted).
    var hasKey: Bool { cipher != nil }

    /// The two transport cipher states: (initiator → responder, responder → initiator).
    func split() -> (NoiseCipherState, NoiseCipherState) {
        let (k1, k2) = Self.hkdf(chainingKey: chainingKey, inputKeyMaterial: [])
        return (NoiseCipherState(key: k1), NoiseCipherState(key: k2))
    }

    /// Noise's HKDF with two outputs, built on HMAC-SHA256.
    static func hkdf(chainingKey: [UInt8], inputKeyMaterial: [UInt8]) -> ([UInt8], [UInt8]) {
        let tempKey = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: inputKeyMaterial, using: SymmetricKey(data: chainingKey)))
        let out1 = Array(HMAC<SHA256>.authenticationCode(for: [0x01], using: tempKey))
        let out2 = Array(HMAC<SHA256>.authenticationCode(for: out1 + [0x02], using: tempKey))
        return (out1, out2)
    }
}
