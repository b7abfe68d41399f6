/// A buffer map: one bit per block of a manifest, set when the block is held.
///
/// On the wire (``BlockExchangeMessage/bufferMap(_:)``) bit `i` is bit
/// `7 - i % 8` of byte `i / 8` (most significant bit first, as in BitTorrent);
/// the spare bits of the last byte are zero.
///
/// ```swift
/// var map = Bitfield(count: 10)
/// map.insert(3)
/// map.contains(3)   // true
/// map.bytes         // [0b0001_0000, 0]
/// ```
public struct Bitfield: Sendable, Equatable, Hashable {
    /// The number of blocks the map covers.
    public let count: Int
    /// The packed bits, `(count + 7) / 8` bytes.
    public private(set) var bytes: [UInt8]
    /// The number of set bits.
    public private(set) var setCount: Int

    /// An empty map of `count` blocks.
    public init(count: Int) {
        precondition(count >= 0, "a bitfield cannot have a negative count")
        self.count = count
        self.bytes = [UInt8](repeating: 0, count: (count + 7) / 8)
        self.setCount = 0
    }

    /// A full map of `count` blocks.
    public static func full(count: Int) -> Bitfield {
        var map = Bitfield(count: count)
        for i in 0..<count { map.insert(i) }
        return map
    }

    /// Decodes packed bits; throws when the length does not match `count` or a spare bit is set.
    public init(count: Int, bytes: [UInt8]) throws {
        guard count >= 0, bytes.count == (count + 7) / 8 else {
            throw StorageError(code: .invalidArgument, message: "a buffer map of \(count) blocks has \((max(count, 0) + 7) / 8) bytes, not \(bytes.count); the peer sent a malformed map")
        }
        if count % 8 != 0, let last = bytes.last, last & (0xFF >> UInt8(count % 8)) != 0 {
            throw StorageError(code: .invalidArgument, message: "a buffer map of \(count) blocks has bits set past its end; the peer sent a malformed map")
        }
        self.count = count
        self.bytes = bytes
        self.setCount = bytes.reduce(0) { $0 + $1.nonzeroBitCount }
    }

    /// Whether block `index` is held (false when out of range).
    public func contains(_ index: Int) -> Bool {
        guard index >= 0, index < count else { return false }
        return bytes[index >> 3] & (0x80 >> UInt8(index & 7)) != 0
    }

    /// Marks block `index` held; returns false if it already was (or is out of range).
    @discardableResult
    public mutating func insert(_ index: Int) -> Bool {
        guard index >= 0, index < count, !contains(index) else { return false }
        bytes[index >> 3] |= 0x80 >> UInt8(index & 7)
        setCount += 1
        return true
    }

    /// Clears block `index`; returns false if it was not set.
    @discardableResult
    public mutating func remove(_ index: Int) -> Bool {
        guard contains(index) else { return false }
        bytes[index >> 3] &= ~(0x80 >> UInt8(index & 7))
        setCount -= 1
        return true
    }

    /// Whether every block is held.
    public var isFull: Bool { setCount == count }

    /// The indices of the set bits, ascending.
    public var indices: [Int] { (0..<count).filter(contains) }
}
