import Gossipsub

/// libFuzzer entry point: pubsub RPCs from the network must decode or throw, never crash, and a
/// decoded RPC must re-encode to bytes that decode to the same RPC (and verify or fail cleanly).
/// Build and run with `scripts/fuzz pubsubrpc`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    guard let rpc = try? PubsubRPC(protobuf: bytes) else { return 0 }
    precondition((try? PubsubRPC(protobuf: rpc.protobufBytes)) == rpc, "re-encoded RPC decodes to itself")
    for message in rpc.messages { _ = try? message.verifySignature() }
    return 0
}
