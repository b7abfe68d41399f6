import Foundation
import Libp2p
import NIOCore
import Synchronization

/// The sending half of one block exchange stream: messages are queued and
/// written by one task, in order, so frames never interleave. BLOCK replies
/// are queued as indices and read from the store only when their turn comes.
final class BlockExchangeWriter: Sendable {
    enum Item: Sendable {
        case message(BlockExchangeMessage)
        /// Read block `index` (CID `cid`) from the store and send it, unless cancelled.
        case block(Int, CID)
    }

    let stream: P2PStream
    private let continuation: AsyncStream<Item>.Continuation
    private let task: Task<Void, Never>
    private let cancelled = CancelledIndices()

    /// Starts the writer task; `store` serves `.block` items, `limiter` paces them.
    init(stream: P2PStream, store: BlockStore?, limiter: UploadLimiter?, onBlockSent: (@Sendable (Int) -> Void)? = nil) {
        self.stream = stream
        let (items, continuation) = AsyncStream<Item>.makeStream()
        self.continuation = continuation
        let cancelled = self.cancelled
        task = Task {
            for await item in items {
                let frame: ByteBuffer
                switch item {
                case .message(let message):
                    frame = message.framed()
                case .block(let index, let cid):
                    if cancelled.take(index) { continue }
                    if let data = try? store?.get(cid) {
                        frame = BlockExchangeMessage.block(index: index, bytes: data).framed()
                        if let limiter { await limiter.acquire(frame.readableBytes) }
                        onBlockSent?(data.count)
                    } else {
                        frame = BlockExchangeMessage.dontHave(index).framed()
                    }
                }
                do { try await stream.write(frame) } catch { break }
            }
        }
    }

    /// Queues an item; false once the writer has finished.
    @discardableResult
    func send(_ item: Item) -> Bool {
        if case .terminated = continuation.yield(item) { return false }
        return true
    }

    /// Queues a message.
    @discardableResult
    func send(_ message: BlockExchangeMessage) -> Bool { send(.message(message)) }

    /// Skips a queued BLOCK reply.
    func cancel(_ index: Int) { cancelled.insert(index) }

    /// Sends what is queued, then half-closes the stream.
    func finish() async {
        continuation.finish()
        await task.value
        await stream.closeWrite()
    }

    /// Drops what is queued and resets the stream.
    func abort() async {
        continuation.finish()
        task.cancel()
        await stream.reset()
    }
}

extension P2PStream {
    /// Reads one block exchange frame; nil at a clean end of stream.
    func readBlockExchangeMessage() async throws -> BlockExchangeMessage? {
        guard let frame = try await readLengthPrefixed(maxLength: BlockExchangeMessage.maxFrameLength) else { return nil }
        return try BlockExchangeMessage(decoding: frame)
    }
}

/// Indices whose queued BLOCK replies were cancelled.
final class CancelledIndices: Sendable {
    private let indices = Mutex<Set<Int>>([])
    func insert(_ index: Int) { indices.withLock { _ = $0.insert(index) } }
    /// Removes `index`; whether it was there.
    func take(_ index: Int) -> Bool { indices.withLock { $0.remove(index) != nil } }
}
