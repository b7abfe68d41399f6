import Libp2p

/// libFuzzer entry point: peer ids (binary multihash and text: base58btc, CIDv1) must parse or
/// throw, never crash; parsed ids must round-trip through both text forms. Run with `scripts/fuzz peerid`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    if let id = try? PeerID(bytes: bytes) {
        precondition(id.bytes == bytes, "binary round trip")
        precondition((try? PeerID(string: id.description)) == id, "base58 round trip")
        precondition((try? PeerID(string: id.cidString)) == id, "CID round trip")
        if let key = id.publicKey { precondition(id.matches(key), "embedded key names the id") }
    }
    if let id = try? PeerID(string: String(decoding: bytes, as: UTF8.self)) {
        precondition((try? PeerID(bytes: id.bytes)) == id, "bytes of parsed text")
    }
    _ = try? PublicKey(protobuf: bytes)
    _ = try? PrivateKey(protobuf: bytes)
    return 0
}
