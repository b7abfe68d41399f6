import Libp2p

/// libFuzzer entry point: multiaddrs from the network (binary) and from users (text) must parse or
/// throw, never crash; whatever parses must round-trip. Run with `scripts/fuzz multiaddr`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    if let addr = try? Multiaddr(bytes: bytes) {
        precondition(addr.bytes == bytes, "binary round trip")
        precondition((try? Multiaddr(addr.description)) == addr, "text round trip")
    }
    if let addr = try? Multiaddr(String(decoding: bytes, as: UTF8.self)) {
        precondition((try? Multiaddr(bytes: addr.bytes)) == addr, "bytes of parsed text")
    }
    return 0
}
