import Libp2p
import NIOCore

/// libFuzzer entry point: yamux frames from the network must be handled or rejected, never crash;
/// the first byte picks the role and how the input is split. Run with `scripts/fuzz yamux`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    guard let control = bytes.first else { return 0 }
    var mux = YamuxStateMachine(isClient: control & 1 == 1)
    let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    var input = ByteBuffer()
    let body = bytes.dropFirst()
    let step = max(1, Int(control >> 1))
    var offset = body.startIndex
    while offset < body.endIndex {
        let end = min(body.endIndex, offset + step)
        input.writeBytes(body[offset..<end])
        offset = end
        guard let action = try? mux.receive(&input, now: now) else { return 0 }
        for case .data(let id, let box) in action.events {
            _ = mux.consumed(id, bytes: box.buffer.readableBytes, now: now)
        }
    }
    return 0
}
