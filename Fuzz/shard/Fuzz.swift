import Foundation
import MeshNN

/// libFuzzer entry point: decoding arbitrary bytes must throw or succeed, never crash.
/// Build and run with `scripts/fuzz` (MESHFL_FUZZ=1, --sanitize=fuzzer).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Data(bytes: start, count: count)
    _ = try? ShardFile.decode(bytes)
    return 0
}
