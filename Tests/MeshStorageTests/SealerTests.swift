import Crypto
import Foundation
import Testing
@testable import MeshStorage

struct SealerTests {
    let key = Curve25519.KeyAgreement.PrivateKey()

    @Test(arguments: [0, 1, 63, 64, 65, 640, 1000])
    func sealedBlobsOpenToTheSameBytes(length: Int) throws {
        let plaintext = TestSupport.bytes(length, seed: UInt64(length) + 3)
        let sealed = try Sealer.seal(plaintext, to: key.publicKey, chunkSize: 64)
        let chunks = max(1, (length + 63) / 64)
        #expect(sealed.count == Sealer.headerSize + length + chunks * 16)
        #expect(try Sealer.open(sealed, with: key) == plaintext)
    }

    func refused(_ sealed: Data, with key: Curve25519.KeyAgreement.PrivateKey? = nil) -> Bool {
        do {
            _ = try Sealer.open(sealed, with: key ?? self.key)
            return false
        } catch let error as StorageError {
            return error.code == .sealing
        } catch {
            return false
        }
    }

    @Test func everyFlippedBitIsRefused() throws {
        let sealed = try Sealer.seal(TestSupport.bytes(200), to: key.publicKey, chunkSize: 64)
        // Every byte position (header, each chunk, each tag), one bit each.
        for position in 0..<sealed.count {
            var bad = sealed
            bad[position] ^= UInt8(1 << (position % 8))
            #expect(refused(bad), "flip at byte \(position) was accepted")
        }
    }

    @Test func truncationReorderingAndTheWrongKeyAreRefused() throws {
        let plaintext = TestSupport.bytes(256)  // exactly 4 chunks of 64
        let sealed = try Sealer.seal(plaintext, to: key.publicKey, chunkSize: 64)
        let header = sealed.prefix(Sealer.headerSize)
        let chunks = (0..<4).map { sealed.dropFirst(Sealer.headerSize + $0 * 80).prefix(80) }
        #expect(refused(header + chunks[0] + chunks[1] + chunks[2]))            // dropped last chunk, on a boundary
        #expect(refused(header + chunks[0] + chunks[2] + chunks[1] + chunks[3])) // reordered
        #expect(refused(header + chunks[0] + chunks[1] + chunks[2] + chunks[3] + chunks[3])) // duplicated
        #expect(refused(sealed.dropLast(1)))
        #expect(refused(header))
        #expect(refused(sealed, with: Curve25519.KeyAgreement.PrivateKey()))
        #expect(try Sealer.open(header + chunks[0] + chunks[1] + chunks[2] + chunks[3], with: key) == plaintext)
    }

    @Test func filesSealAndOpenStreaming() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = dir.appending(path: "w.bin"), sealed = dir.appending(path: "w.sealed"), opened = dir.appending(path: "w.out")
        let data = TestSupport.bytes(3 * 4096 + 5)
        try data.write(to: plain)
        try Sealer.seal(file: plain, to: sealed, recipient: key.publicKey, chunkSize: 4096)
        try Sealer.open(file: sealed, to: opened, with: key)
        #expect(try Data(contentsOf: opened) == data)
        // A tampered file leaves no output behind.
        var bad = try Data(contentsOf: sealed)
        bad[bad.count - 3] ^= 0x80
        try bad.write(to: sealed)
        let opened2 = dir.appending(path: "w2.out")
        #expect(throws: StorageError.self) { try Sealer.open(file: sealed, to: opened2, with: key) }
        #expect(!FileManager.default.fileExists(atPath: opened2.path))
    }
}
