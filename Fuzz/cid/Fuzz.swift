import Foundation
import MeshStorage

/// libFuzzer entry point: CIDs from the network (binary and string form) must
/// parse or throw, never crash; a parsed CID must print and re-parse to itself.
/// Build and run with `scripts/fuzz cid`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    if let cid = try? CID(bytes: bytes) {
        precondition(cid.bytes == bytes, "binary round trip")
        precondition((try? CID(parsing: cid.description)) == cid, "string round trip")
    }
    if let cid = try? CID(parsing: String(decoding: bytes, as: UTF8.self)) {
        precondition((try? CID(bytes: cid.bytes)) == cid, "bytes of a parsed string")
    }
    return 0
}
