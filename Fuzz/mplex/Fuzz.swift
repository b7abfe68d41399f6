import Libp2p
import NIOCore

/// libFuzzer entry point: mplex frames from the network must be handled or rejected, never crash.
/// Run with `scripts/fuzz mplex`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    var mux = MplexStateMachine(maxStreams: 64)
    var input = ByteBuffer(bytes: bytes)
    if let action = try? mux.receive(&input, now: .uptimeNanoseconds(0)) {
        for case .streamOpened(let id) in action.events {
            var reply = ByteBuffer(bytes: [1, 2, 3])
            _ = mux.send(id, &reply)
            _ = mux.closeWrite(id)
        }
    }
    return 0
}
