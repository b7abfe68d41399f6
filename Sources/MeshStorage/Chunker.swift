public import Foundation

/// Splits a byte stream into fixed-size blocks (1 MiB by default); pure logic, no I/O.
///
/// Feed it bytes as they arrive and take the full blocks it hands back; call
/// ``finish()`` at the end for the short last block. Only one block's worth of
/// bytes is ever buffered.
///
/// ```swift
/// var chunker = Chunker(blockSize: 4)
/// chunker.append(Data("abcdef".utf8))  // ["abcd"]
/// chunker.finish()                     // "ef"
/// ```
public struct Chunker: Sendable {
    /// The default block size, 1 MiB.
    public static let defaultBlockSize = 1 << 20

    /// The size of every block but the last.
    public let blockSize: Int
    private var pending = Data()

    /// Creates a chunker; `blockSize` must be positive.
    public init(blockSize: Int = Chunker.defaultBlockSize) {
        precondition(blockSize > 0, "block size must be positive")
        self.blockSize = blockSize
    }

    /// Appends bytes and returns the blocks they complete, in order.
    public mutating func append(_ bytes: some DataProtocol) -> [Data] {
        var blocks: [Data] = []
        var input = Data(bytes)[...]
        while !input.isEmpty {
            let take = min(blockSize - pending.count, input.count)
            pending.append(input.prefix(take))
            input = input.dropFirst(take)
            if pending.count == blockSize {
                blocks.append(pending)
                pending = Data()
            }
        }
        return blocks
    }

    /// Returns the final short block, or nil when the stream ended on a block boundary.
    public mutating func finish() -> Data? {
        defer { pending = Data() }
        return pending.isEmpty ? nil : pending
    }
}

extension Chunker {
    /// Reads `handle` to its end and calls `body` with each block in order;
    /// at most one block (plus one read) is in memory at a time.
    ///
    /// An empty input yields no blocks.
    public static func forEachBlock(
        of handle: FileHandle,
        blockSize: Int = Chunker.defaultBlockSize,
        _ body: (Data) throws -> Void
    ) throws {
        var chunker = Chunker(blockSize: blockSize)
        let readSize = max(64 * 1024, min(blockSize, 4 << 20))
        var reads = 0
        while true {
            let data: Data
            do {
                guard let next = try handle.read(upToCount: readSize), !next.isEmpty else { break }
                data = next
            } catch {
                throw StorageError(code: .io, message: "reading the input failed after \(reads) reads; check the file is readable", cause: error)
            }
            reads += 1
            for block in chunker.append(data) { try body(block) }
        }
        if let last = chunker.finish() { try body(last) }
    }
}
