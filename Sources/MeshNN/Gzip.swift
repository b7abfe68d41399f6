import CZlib
import Foundation

/// gzip compression and streaming decompression through the system zlib.
enum Gzip {
    /// Whether `data` starts with the gzip magic bytes `1f 8b`.
    static func isCompressed(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B
    }

    /// Inflates a gzip stream (concatenated members allowed), refusing more than `limit` output bytes.
    ///
    /// - Throws: ``FormatError`` `.truncated` if the stream ends early, `.malformed` if it is corrupt.
    static func decompress(_ data: Data, source: String, limit: Int = 1 << 33) throws -> Data {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw FormatError(.io, "\(source): zlib could not start inflating (out of memory?)")
        }
        defer { inflateEnd(&stream) }
        var output = Data()
        output.reserveCapacity(min(limit, data.count * 4))
        let chunkSize = 1 << 18
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            guard let base = input.bindMemory(to: UInt8.self).baseAddress else {
                throw FormatError(.truncated, "\(source): the file is empty")
            }
            var consumed = 0
            var finishedMember = false
            while true {
                if stream.avail_in == 0 {
                    let remaining = input.count - consumed
                    if remaining == 0 { break }
                    let take = min(remaining, Int(UInt32.max / 2))
                    stream.next_in = UnsafeMutablePointer(mutating: base + consumed)
                    stream.avail_in = UInt32(take)
                    consumed += take
                }
                let status: Int32 = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(chunkSize)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    return status
                }
                let produced = chunkSize - Int(stream.avail_out)
                if produced > 0 {
                    guard output.count + produced <= limit else {
                        throw FormatError(.malformed, "\(source): decompresses to more than \(limit) bytes; refusing")
                    }
                    output.append(contentsOf: chunk[0..<produced])
                }
                switch status {
                case Z_OK:
                    finishedMember = false
                case Z_STREAM_END:
                    finishedMember = true
                    // Another gzip member may follow (as `cat a.gz b.gz` makes); trailing zeros are padding.
                    let rest = Int(stream.avail_in) + (input.count - consumed)
                    let restStart = input.count - rest
                    if rest == 0 || (restStart..<input.count).allSatisfy({ base[$0] == 0 }) { return }
                    guard rest >= 2, base[restStart] == 0x1F, base[restStart + 1] == 0x8B else {
                        throw FormatError(.malformed, "\(source): \(rest) unexpected bytes after the end of the gzip stream")
                    }
                    inflateReset(&stream)
                case Z_BUF_ERROR where stream.avail_in == 0 && consumed == input.count:
                    throw FormatError(.truncated, "\(source): the gzip stream ends early; the file is truncated, download or copy it again")
                case Z_BUF_ERROR:
                    continue
                default:
                    let detail = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    throw FormatError(.malformed, "\(source): corrupt gzip data (\(detail)); the file is damaged")
                }
            }
            if !finishedMember {
                throw FormatError(.truncated, "\(source): the gzip stream ends early; the file is truncated, download or copy it again")
            }
        }
        return output
    }

    /// Deflates `data` into a single gzip member (used for tests and for writing `.gz` files).
    static func compress(_ data: Data, level: Int32 = 6) -> Data {
        var stream = z_stream()
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                            zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            preconditionFailure("zlib deflateInit2 failed")
        }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, UInt(data.count))) + 64
        var output = [UInt8](repeating: 0, count: bound)
        var input = [UInt8](data)
        let produced: Int = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = UInt32(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = UInt32(outBuffer.count)
                let status = deflate(&stream, Z_FINISH)
                precondition(status == Z_STREAM_END, "zlib deflate failed: \(status)")
                return outBuffer.count - Int(stream.avail_out)
            }
        }
        return Data(output[0..<produced])
    }
}
