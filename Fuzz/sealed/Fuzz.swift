import Crypto
import Foundation
import MeshStorage

/// A fixed recipient key, so inputs that start from a real sealed blob reach
/// the chunk decoder.
let recipient = try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: Data(repeating: 7, count: 32))

/// libFuzzer entry point: sealed blobs from storage must open or throw, never
/// crash. Build and run with `scripts/fuzz sealed`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    _ = try? Sealer.open(Data(bytes: start, count: count), with: recipient)
    return 0
}
