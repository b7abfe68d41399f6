public import Crypto
public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Seals blobs (trained weights) to a recipient's X25519 key with HPKE
/// (RFC 9180: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305),
/// in chunks so a blob of any size streams through a bounded buffer.
///
/// Format: a 46-byte header — magic `MFSEAL1\n`, chunk size (u32 BE),
/// encapsulated-key length (u16 BE, 32), the encapsulated key — then the
/// chunks, each `chunkSize + 16` bytes except the last (shorter or equal).
/// Chunk *i* is sealed with AAD = header ‖ *i* (u64 BE) ‖ final flag (u8), in
/// HPKE's sequence order, so a changed header, a reordered, dropped, duplicated
/// or truncated chunk, or a flipped bit all fail to open.
///
/// ```swift
/// let requester = Curve25519.KeyAgreement.PrivateKey()
/// let sealed = try Sealer.seal(weights, to: requester.publicKey)
/// let weights2 = try Sealer.open(sealed, with: requester)
/// ```
public enum Sealer {
    /// The default plaintext chunk size, 1 MiB.
    public static let defaultChunkSize = 1 << 20
    static let magic = Array("MFSEAL1\n".utf8)
    static let tagSize = 16
    static let headerSize = 8 + 4 + 2 + 32
    static let suite = HPKE.Ciphersuite.Curve25519_SHA256_ChachaPoly

    static func info(chunkSize: Int) -> Data {
        Data("meshfl/seal/1 chunk=\(chunkSize)".utf8)
    }

    /// Seals `plaintext` to `recipient`.
    public static func seal(_ plaintext: Data, to recipient: Curve25519.KeyAgreement.PublicKey, chunkSize: Int = defaultChunkSize) throws -> Data {
        var output = Data()
        var input = plaintext[...]
        try seal(read: { count in
            let piece = input.prefix(count)
            input = input.dropFirst(piece.count)
            return Data(piece)
        }, write: { output.append($0) }, to: recipient, chunkSize: chunkSize)
        return output
    }

    /// Opens a sealed blob with the recipient's private key.
    public static func open(_ sealed: Data, with key: Curve25519.KeyAgreement.PrivateKey) throws -> Data {
        var output = Data()
        var input = sealed[...]
        try open(read: { count in
            let piece = input.prefix(count)
            input = input.dropFirst(piece.count)
            return Data(piece)
        }, write: { output.append($0) }, with: key)
        return output
    }

    /// Seals the file at `source` into `destination` (written atomically), streaming.
    public static func seal(file source: URL, to destination: URL, recipient: Curve25519.KeyAgreement.PublicKey, chunkSize: Int = defaultChunkSize) throws {
        try transform(source, destination) { read, write in
            try seal(read: read, write: write, to: recipient, chunkSize: chunkSize)
        }
    }

    /// Opens the sealed file at `source` into `destination`; nothing is left at
    /// `destination` unless the whole blob authenticates.
    public static func open(file source: URL, to destination: URL, with key: Curve25519.KeyAgreement.PrivateKey) throws {
        try transform(source, destination) { read, write in
            try open(read: read, write: write, with: key)
        }
    }

    // MARK: Core

    static func seal(read: (Int) throws -> Data, write: (Data) throws -> Void, to recipient: Curve25519.KeyAgreement.PublicKey, chunkSize: Int) throws {
        guard (1...(16 << 20)).contains(chunkSize) else {
            throw StorageError(code: .invalidArgument, message: "seal chunk size must be 1 byte…16 MiB, not \(chunkSize)")
        }
        var sender = try HPKE.Sender(recipientKey: recipient, ciphersuite: suite, info: info(chunkSize: chunkSize))
        let enc = sender.encapsulatedKey
        var header = Data(magic)
        header.append(contentsOf: withUnsafeBytes(of: UInt32(chunkSize).bigEndian, Array.init))
        header.append(contentsOf: withUnsafeBytes(of: UInt16(enc.count).bigEndian, Array.init))
        header.append(enc)
        try write(header)
        var index: UInt64 = 0
        var current = try read(chunkSize)
        while true {
            let next = current.count == chunkSize ? try read(chunkSize) : Data()
            let final = next.isEmpty
            try write(sender.seal(current, authenticating: aad(header, index, final)))
            if final { return }
            current = next
            index += 1
        }
    }

    static func open(read: (Int) throws -> Data, write: (Data) throws -> Void, with key: Curve25519.KeyAgreement.PrivateKey) throws {
        func refuse(_ message: String, _ cause: (any Error)? = nil) -> StorageError {
            StorageError(code: .sealing, message: message, cause: cause)
        }
        let header = try read(headerSize)
        guard header.count == headerSize, Array(header.prefix(8)) == magic else {
            throw refuse("not a meshfl sealed blob (bad or short header); check you downloaded the sealed result, not something else")
        }
        let bytes = Array(header)
        let chunkSize = Int(bytes[8]) << 24 | Int(bytes[9]) << 16 | Int(bytes[10]) << 8 | Int(bytes[11])
        let encLength = Int(bytes[12]) << 8 | Int(bytes[13])
        guard encLength == 32, (1...(16 << 20)).contains(chunkSize) else {
            throw refuse("sealed header has chunk size \(chunkSize) and key length \(encLength); it was corrupted")
        }
        var recipient: HPKE.Recipient
        do {
            recipient = try HPKE.Recipient(privateKey: key, ciphersuite: suite, info: info(chunkSize: chunkSize), encapsulatedKey: header.suffix(32))
        } catch {
            throw refuse("the sealed header's key is invalid", error)
        }
        let sealedChunk = chunkSize + tagSize
        var index: UInt64 = 0
        var current = try read(sealedChunk)
        while true {
            guard current.count >= tagSize else {
                throw refuse("sealed blob is truncated at chunk \(index); download it again")
            }
            let next = current.count == sealedChunk ? try read(sealedChunk) : Data()
            let final = next.isEmpty
            do {
                try write(recipient.open(current, authenticating: aad(header, index, final)))
            } catch let error as StorageError {
                throw error
            } catch {
                throw refuse("chunk \(index) of the sealed blob does not authenticate: it was sealed to another key, or altered, reordered or truncated; do not use it", error)
            }
            if final { return }
            current = next
            index += 1
        }
    }

    static func aad(_ header: Data, _ index: UInt64, _ final: Bool) -> Data {
        var aad = header
        aad.append(contentsOf: withUnsafeBytes(of: index.bigEndian, Array.init))
        aad.append(final ? 1 : 0)
        return aad
    }

    static func transform(_ source: URL, _ destination: URL, _ body: ((Int) throws -> Data, (Data) throws -> Void) throws -> Void) throws {
        guard let input = FileHandle(forReadingAtPath: source.path) else {
            throw StorageError(code: .notFound, message: "cannot open \(source.path) for reading; check the path")
        }
        defer { try? input.close() }
        let directory = destination.deletingLastPathComponent().path
        let (temp, fd) = try FileOps.openTemp(in: directory)
        do {
            defer { close(fd) }
            try body({ count in
                var data = Data()
                while data.count < count, let piece = try input.read(upToCount: count - data.count), !piece.isEmpty {
                    data.append(piece)
                }
                return data
            }, { try FileOps.writeAll(fd, $0) })
            try FileOps.sync(fd, temp)
        } catch {
            unlink(temp)
            throw error
        }
        try FileOps.commit(temp, to: destination.path)
    }
}
