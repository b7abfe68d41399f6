import Kademlia

/// libFuzzer entry point: kad messages from the network must decode or throw, never crash, and a
/// decoded message must re-encode to bytes that decode to the same message.
/// Build and run with `scripts/fuzz kad`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    guard let message = try? KadMessage(protobuf: bytes) else { return 0 }
    precondition((try? KadMessage(protobuf: message.protobufBytes)) == message, "re-encoded message decodes to itself")
    return 0
}
