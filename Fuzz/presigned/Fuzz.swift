import Foundation
import MeshStorage

let verifier = SigV4Verifier(credentials: [.init(accessKeyID: "meshfl", secretAccessKey: "meshfl-local")], region: "us-east-1")

/// libFuzzer entry point: request targets from the network (`/bucket/key?X-Amz-…`)
/// must be split and checked or refused, never crash. Build and run with
/// `scripts/fuzz presigned`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let target = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    let (path, query) = SigV4Verifier.splitTarget(target)
    try? verifier.verifyPresigned(method: "GET", host: "127.0.0.1:8080", path: path, query: query,
                                  headers: [("Content-Type", "a")], now: Date(timeIntervalSince1970: 1_369_353_600))
    return 0
}
