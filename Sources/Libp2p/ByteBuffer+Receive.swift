import NIOCore

/// Receive-buffer handling shared by the TCP bridge, the Noise reader, the
/// muxer input and stream inboxes: append without copying when there is
/// nothing to append to, and drop consumed bytes so a buffer never grows with
/// what was already read.
extension ByteBuffer {
    /// Appends `more`'s readable bytes; an empty buffer adopts `more`'s storage instead of copying it.
    mutating func append(adopting more: inout ByteBuffer) {
        if readableBytes == 0 { self = more } else { writeBuffer(&more) }
    }

    /// Keeps only the unread bytes, in fresh storage: slices handed out earlier (frame payloads) keep the
    /// old storage alive on their own, and the next append neither grows nor copies what they share.
    mutating func discardConsumedBytes() {
        if readableBytes == 0 {
            self = ByteBuffer()
        } else if readerIndex > 0 {
            var rest = ByteBuffer()
            rest.writeBuffer(&self)
            self = rest
        }
    }
}
