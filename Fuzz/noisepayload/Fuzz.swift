import Libp2p
import NIOCore

/// libFuzzer entry point: Noise handshake payloads and handshake messages from an unauthenticated
/// peer must be rejected or accepted without crashing. Run with `scripts/fuzz noisepayload`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    if let payload = try? NoiseHandshakePayload(protobuf: bytes) {
        precondition((try? NoiseHandshakePayload(protobuf: payload.protobufBytes)) == payload, "payload re-encodes")
        _ = try? payload.verify(staticKey: [UInt8](repeating: 9, count: 32))
    }
    // As responder: the bytes as message 1 (and, if answered, whatever follows as message 3).
    var responder = NoiseHandshake(role: .responder, identity: identity)
    var input = ByteBuffer(bytes: bytes)
    for _ in 0..<2 {
        guard let action = try? responder.receive(&input), action.result == nil else { break }
    }
    return 0
}

private let identity = try! PrivateKey(ed25519Seed: [UInt8](repeating: 7, count: 32))
