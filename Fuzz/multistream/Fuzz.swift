import Libp2p
import NIOCore

/// libFuzzer entry point: multistream-select as listener and dialer must answer or throw on any
/// bytes, never crash, and never consume bytes past a selection. Run with `scripts/fuzz multistream`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    var listener = MultistreamStateMachine(listenerSupporting: ["/noise", "/yamux/1.0.0"])
    _ = listener.start()
    var input = ByteBuffer(bytes: bytes)
    if let action = try? listener.receive(&input), let selected = action.selected {
        precondition(["/noise", "/yamux/1.0.0"].contains(selected), "only supported protocols are selected")
    }
    var dialer = MultistreamStateMachine(dialerProposing: ["/yamux/1.0.0", "/mplex/6.7.0"])
    _ = dialer.start()
    // Feed the dialer in two pieces to exercise partial messages.
    var first = ByteBuffer(bytes: bytes.prefix(bytes.count / 2))
    let rest = bytes.dropFirst(bytes.count / 2)
    if (try? dialer.receive(&first)) != nil, dialer.selected == nil {
        first.writeBytes(rest)
        _ = try? dialer.receive(&first)
    }
    return 0
}
