import Libp2p

/// libFuzzer entry point: the protobuf reader and the messages built on it (identify) must
/// decode or throw on any input, never crash or loop. Run with `scripts/fuzz protobuf`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    var reader = ProtobufReader(bytes)
    var fields = 0
    while let field = try? reader.next() {
        fields += 1
        precondition(fields <= bytes.count, "every field consumes at least one byte")
        _ = field.value.stringValue
    }
    if let message = try? Identify(protobuf: bytes) {
        precondition((try? Identify(protobuf: message.protobufBytes)) == message, "identify re-encodes")
    }
    return 0
}
