public import Foundation
public import MeshTensor

/// A set of named tensors in the safetensors format, as `torch` and Hugging Face write it.
///
/// Layout: an 8-byte little-endian header length `n`, `n` bytes of JSON
/// (`{"name":{"dtype":"F32","shape":[..],"data_offsets":[begin,end]}, "__metadata__":{..}}`),
/// then the raw little-endian tensor bytes. meshfl writes `F32` only, tensors sorted by
/// name, header padded with spaces to a multiple of 8 — byte for byte what
/// `safetensors.torch.save_file` writes for the same float32 tensors. It reads `F32`,
/// `F16`, `BF16` and `F64`, converting to `Float`.
///
/// ```swift
/// var weights = SafeTensors(["0.weight": Tensor(zeros: [10, 784]), "0.bias": Tensor(zeros: [10])])
/// try weights.write(to: url)
/// let loaded = try SafeTensors(contentsOf: url)
/// try loaded.checkShapes(against: spec, source: url.path)
/// ```
public struct SafeTensors: Sendable, Hashable {
    /// The tensors by name.
    public var tensors: [String: Tensor]
    /// The free-form string metadata (`__metadata__`).
    public var metadata: [String: String]

    /// The largest header meshfl reads (the same limit as the reference implementation).
    public static let maximumHeaderSize = 100_000_000

    /// Creates a set of tensors.
    public init(_ tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The tensor names in the order they are written (sorted).
    public var names: [String] { tensors.keys.sorted() }

    /// The tensor called `name`, if any.
    public subscript(name: String) -> Tensor? {
        get { tensors[name] }
        set { tensors[name] = newValue }
    }

    /// Reads a safetensors file.
    ///
    /// - Throws: ``FormatError`` `.io` if the file cannot be read, `.truncated`,
    ///   `.malformed` or `.unsupported` naming the file and the tensor.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw FormatError(.io, "\(url.path): cannot read the weights file; check the path", cause: error)
        }
        try self.init(data: data, source: url.path)
    }

    /// Parses safetensors bytes; `source` names them in errors.
    public init(data: Data, source: String = "safetensors data") throws {
        func fail(_ code: FormatError.Code, _ message: String) -> FormatError {
            FormatError(code, "\(source): \(message)")
        }
        guard data.count >= 8 else {
            throw fail(.truncated, "\(data.count) bytes is too short for a safetensors file (it needs an 8-byte header length)")
        }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(SafeTensors.maximumHeaderSize) else {
            throw fail(.malformed, "header length \(headerLength) is implausible; this is not a safetensors file")
        }
        guard Int(headerLength) <= data.count - 8 else {
            throw fail(.truncated, "header length \(headerLength) runs past the end of the \(data.count)-byte file; "
                + "the file is truncated or not safetensors")
        }
        let start = data.startIndex
        let headerBytes = data[(start + 8)..<(start + 8 + Int(headerLength))]
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw fail(.malformed, "the header does not start with '{'; this is not a safetensors file")
        }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: headerBytes)
        } catch let error as DecodingError {
            throw fail(.malformed, "bad header: \(SafeTensors.describe(error))")
        } catch {
            throw fail(.malformed, "bad header: \(error)")
        }

        let payload = data[(start + 8 + Int(headerLength))...]
        var spans: [(begin: Int, end: Int, name: String)] = []
        var tensors: [String: Tensor] = [:]
        tensors.reserveCapacity(header.entries.count)
        for (name, entry) in header.entries {
            let what = "tensor \"\(name)\""
            guard let dtype = DType(rawValue: entry.dtype) else {
                throw fail(.unsupported, "\(what) has dtype \(entry.dtype), which meshfl does not read; "
                    + "save it as float32 (F32), or F16/BF16/F64")
            }
            var count = 1
            for size in entry.shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: size)
                guard size >= 0, !overflow, product <= payload.count else {
                    throw fail(.malformed, "\(what) has shape \(entry.shape), larger than the file")
                }
                count = product
            }
            guard entry.dataOffsets.count == 2 else {
                throw fail(.malformed, "\(what): data_offsets must be [begin, end], got \(entry.dataOffsets)")
            }
            let (begin, end) = (entry.dataOffsets[0], entry.dataOffsets[1])
            guard begin >= 0, begin <= end, end <= payload.count else {
                throw fail(.truncated, "\(what): data_offsets [\(begin), \(end)] fall outside the \(payload.count) data bytes; "
                    + "the file is truncated or corrupt")
            }
            guard end - begin == count * dtype.size else {
                throw fail(.malformed, "\(what): shape \(entry.shape) of \(dtype.rawValue) needs \(count * dtype.size) bytes "
                    + "but data_offsets [\(begin), \(end)] span \(end - begin)")
            }
            spans.append((begin, end, name))
            let bytes = payload[(payload.startIndex + begin)..<(payload.startIndex + end)]
            tensors[name] = Tensor(shape: entry.shape, scalars: dtype.decode(bytes, count: count))
        }
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (previous, next) in zip(spans, spans.dropFirst()) where next.begin < previous.end {
            throw fail(.malformed, "tensors \"\(previous.name)\" and \"\(next.name)\" overlap "
                + "(bytes [\(previous.begin), \(previous.end)) and [\(next.begin), \(next.end))); the file is corrupt")
        }
        self.tensors = tensors
        self.metadata = header.metadata
    }

    /// The file's bytes: F32 tensors sorted by name, header padded with spaces to 8 bytes.
    public func serialized() -> Data {
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += "\"__metadata__\":{"
            json += metadata.keys.sorted().map { "\(SafeTensors.quote($0)):\(SafeTensors.quote(metadata[$0]!))" }
                .joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        let ordered = names
        for name in ordered {
            let tensor = tensors[name]!
            let end = offset + tensor.count * 4
            if !first { json += "," }
            first = false
            json += "\(SafeTensors.quote(name)):{\"dtype\":\"F32\",\"shape\":["
                + tensor.shape.map(String.init).joined(separator: ",")
                + "],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        json += "}"
        var header = Array(json.utf8)
        while header.count % 8 != 0 { header.append(0x20) }

        var data = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: header)
        for name in ordered {
            tensors[name]!.withUnsafeBufferPointer { buffer in
                #if _endian(big)
                for value in buffer { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
                #else
                data.append(UnsafeBufferPointer(start: buffer.baseAddress, count: buffer.count))
                #endif
            }
        }
        return data
    }

    /// Writes ``serialized()`` to `url` atomically (nothing is left behind on failure).
    public func write(to url: URL) throws {
        do {
            try serialized().write(to: url, options: .atomic)
        } catch {
            throw FormatError(.io, "\(url.path): cannot write the weights; check the directory exists and is writable",
                              cause: error)
        }
    }

    /// JSON string literal as serde_json writes it (so headers match the reference writer).
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    static func describe(_ error: DecodingError) -> String {
        func where_(_ path: [any CodingKey]) -> String {
            guard let first = path.first else { return "" }
            let rest = path.dropFirst().map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return first.stringValue == "__metadata__" ? "__metadata__\(rest): " : "tensor \"\(first.stringValue)\"\(rest): "
        }
        switch error {
        case let .keyNotFound(key, context):
            return "\(where_(context.codingPath))missing \(key.stringValue)"
        case let .typeMismatch(type, context):
            return "\(where_(context.codingPath))expected \(ModelSpec.typeDescription(type))"
        case let .valueNotFound(type, context):
            return "\(where_(context.codingPath))null where \(ModelSpec.typeDescription(type)) was expected"
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty { return "not valid JSON" }
            return "\(where_(context.codingPath))\(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
