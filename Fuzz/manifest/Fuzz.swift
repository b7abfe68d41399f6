import Foundation
import MeshStorage

/// libFuzzer entry point: manifest blocks from peers or disk must decode or
/// throw, never crash; a decoded manifest re-encodes to one that decodes equal.
/// Build and run with `scripts/fuzz manifest`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Data(bytes: start, count: count)
    if let manifest = try? Manifest(decoding: bytes) {
        precondition((try? Manifest(decoding: manifest.encoded())) == manifest, "canonical round trip")
    }
    return 0
}
