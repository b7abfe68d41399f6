public import Crypto
import Foundation
import NIOCore

/// One direction of a Noise transport: a ChaCha20-Poly1305 key and a nonce counter.
///
/// The nonce is 4 zero bytes followed by the little-endian 64-bit counter, as Noise specifies.
public struct NoiseCipherState: Sendable {
    /// Bytes of the Poly1305 tag added to every ciphertext.
    public static let tagLength = 16
    /// Bytes of a ChaCha20-Poly1305 nonce.
    static let nonceLength = 12

    private let key: SymmetricKey
    /// The next nonce.
    public private(set) var nonce: UInt64 = 0

    init(key: [UInt8]) {
        self.key = SymmetricKey(data: key)
    }

    private mutating func nextNonce() throws(Libp2pError) -> ChaChaPoly.Nonce {
        guard nonce < UInt64.max else { throw Libp2pError(.handshakeFailed, "Noise nonce exhausted; reconnect") }
        defer { nonce += 1 }
        return Self.nonce(nonce)
    }

    /// The ChaCha20-Poly1305 nonce of message number `counter`: 4 zero bytes, then `counter` little-endian.
    public static func nonce(_ counter: UInt64) -> ChaChaPoly.Nonce {
        var bytes = [UInt8](repeating: 0, count: nonceLength)
        var n = counter
        for i in 4..<nonceLength { bytes[i] = UInt8(truncatingIfNeeded: n); n >>= 8 }
        // 12 bytes is always a valid ChaCha20-Poly1305 nonce.
        return try! ChaChaPoly.Nonce(data: bytes)
    }

    /// Encrypts `plaintext` with associated data `ad`; returns ciphertext ‖ tag.
    mutating func encrypt(_ plaintext: some DataProtocol, ad: [UInt8] = []) throws(Libp2pError) -> [UInt8] {
        let n = try nextNonce()
        do {
            let box = try ChaChaPoly.seal(plaintext, using: key, nonce: n, authenticating: ad)
            var out = [UInt8](box.ciphertext)
            out.append(contentsOf: box.tag)
            return out
        } catch {
            throw Libp2pError(.handshakeFailed, "ChaCha20-Poly1305 encryption failed", cause: error)
        }
    }

    /// Encrypts the readable bytes of `plaintext` (no associated data) and appends ciphertext ‖ tag to `out`.
    ///
    /// The transport's hot path: the plaintext is read in place and the ciphertext copied once.
    mutating func seal(_ plaintext: ByteBuffer, appendingTo out: inout ByteBuffer) throws(Libp2pError) {
        let n = try nextNonce()
        do {
            let box = try plaintext.withUnsafeReadableBytes { try ChaChaPoly.seal($0, using: key, nonce: n) }
            out.writeBytes(box.ciphertext)
            out.writeBytes(box.tag)
        } catch {
            throw Libp2pError(.handshakeFailed, "ChaCha20-Poly1305 encryption failed", cause: error)
        }
    }

    /// Decrypts the readable bytes of `frame` (ciphertext ‖ tag, no associated data) and appends the plaintext to `out`.
    ///
    /// - Throws: ``Libp2pError/Code/handshakeFailed`` if the tag does not verify.
    mutating func open(_ frame: ByteBuffer, appendingTo out: inout ByteBuffer) throws(Libp2pError) {
        guard frame.readableBytes >= Self.tagLength else {
            throw Libp2pError(.handshakeFailed, "Noise ciphertext shorter than its tag")
        }
        let n = try nextNonce()
        do {
            // One copy into the combined nonce ‖ ciphertext ‖ tag form, which SealedBox keeps as is
            // (building it from separate parts copies the ciphertext more than once).
            var combined = Data(capacity: Self.nonceLength + frame.readableBytes)
            n.withUnsafeBytes { combined.append($0.bindMemory(to: UInt8.self)) }
            frame.withUnsafeReadableBytes { combined.append($0.bindMemory(to: UInt8.self)) }
            let plaintext = try ChaChaPoly.open(ChaChaPoly.SealedBox(combined: combined), using: key)
            out.writeBytes(plaintext)
        } catch {
            throw Libp2pError(.handshakeFailed, "Noise message failed authentication (corrupt or forged)", cause: error)
        }
    }

    /// Decrypts ciphertext ‖ tag with associated data `ad`.
    ///
    /// - Throws: ``Libp2pError/Code/handshakeFailed`` if the tag does not verify.
    public mutating func decrypt(_ ciphertext: [UInt8], ad: [UInt8] = []) throws(Libp2pError) -> [UInt8] {
        guard ciphertext.count >= Self.tagLength else {
            throw Libp2pError(.handshakeFailed, "Noise ciphertext shorter than its tag")
        }
        let n = try nextNonce()
        do {
            let split = ciphertext.count - Self.tagLength
            let box = try ChaChaPoly.SealedBox(nonce: n, ciphertext: ciphertext[..<split], tag: ciphertext[split...])
            return [UInt8](try ChaChaPoly.open(box, using: key, authenticating: ad))
        } catch {
            throw Libp2pError(.handshakeFailed, "Noise message failed authentication (corrupt or forged)", cause: error)
        }
    }
}
