import MeshLedger

/// libFuzzer entry point for MeshLedger's byte decoders: HAPI `Transaction` /
/// `SignedTransaction` / `TransactionBody` bytes (from nodes, peers and the
/// ledger file's log) and mirror-node JSON must decode or throw, never crash.
/// Build and run with `scripts/fuzz 30 hapi` (MESHFL_FUZZ=1, --sanitize=fuzzer).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    if let tx = try? SignedTransaction(transactionBytes: bytes) {
        _ = try? tx.body()
        _ = try? tx.verifiedSigners(among: [[UInt8](repeating: 1, count: 32)])
    }
    _ = try? SignedTransaction(signedTransactionBytes: bytes)
    _ = try? TransactionBody(decoding: bytes)
    _ = try? MirrorNodeTopicPage(json: bytes)
    return 0
}
