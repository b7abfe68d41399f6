public import Foundation
import MeshTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Dataset {
    /// Whether a CSV file starts with a header line.
    public enum CSVHeader: Sendable, Hashable {
        /// A header is present if any field of the first line is not a number.
        case detect
        /// The first line is a header.
        case present
        /// The first line is data.
        case absent
    }

    /// Loads a CSV file of numbers: one sample per line, a label column and feature columns.
    ///
    /// Fields are separated by commas and may be padded with spaces or wrapped in double
    /// quotes; blank lines are skipped; `\n` and `\r\n` line ends are accepted. Features are
    /// kept as written (scale them with ``standardize(_:)`` if needed).
    /// - Parameters:
    ///   - labelColumn: the column holding the class index; negative counts from the end (`-1` is the last).
    ///   - sampleShape: the per-sample shape; defaults to `[featureColumns]`.
    ///   - classCount: the number of classes; defaults to the largest label + 1.
    /// - Throws: ``FormatError`` naming the file and line: wrong field count, a field that is not a
    ///   number, a label that is not a non-negative integer.
    public static func csv(contentsOf url: URL, labelColumn: Int = 0, header: CSVHeader = .detect,
                           sampleShape: [Int]? = nil, classCount: Int? = nil) throws -> Dataset {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw FormatError(.io, "\(url.path): cannot read the CSV file; check the path", cause: error)
        }
        return try csv(data: data, source: url.path, labelColumn: labelColumn, header: header,
                       sampleShape: sampleShape, classCount: classCount)
    }

    /// Parses CSV bytes; `source` names them in errors. See ``csv(contentsOf:labelColumn:header:sampleShape:classCount:)``.
    public static func csv(data: Data, source: String = "CSV data", labelColumn: Int = 0, header: CSVHeader = .detect,
                           sampleShape: [Int]? = nil, classCount: Int? = nil) throws -> Dataset {
        var text = [CChar](unsafeUninitializedCapacity: data.count + 1) { buffer, count in
            _ = data.copyBytes(to: UnsafeMutableRawBufferPointer(buffer))
            buffer[data.count] = 0
            count = data.count + 1
        }
        var features: [Float] = []
        var labels: [Int32] = []
        var labelLines: [Int] = []
        var columns = -1
        var columnsLine = 0
        try text.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            let end = data.count
            var position = 0
            var line = 0
            var row: [Float] = []
            while position < end {
                line += 1
                var lineEnd = position
                while lineEnd < end && base[lineEnd] != 0x0A { lineEnd += 1 }
                var contentEnd = lineEnd
                if contentEnd > position && base[contentEnd - 1] == 0x0D { contentEnd -= 1 }
                defer { position = lineEnd + 1 }
                if (position..<contentEnd).allSatisfy({ base[$0] == 0x20 || base[$0] == 0x09 }) { continue }
                // Parse the fields of this line.
                row.removeAll(keepingCapacity: true)
                var field = position
                var bad: (index: Int, text: String)?
                while true {
                    var fieldEnd = field
                    while fieldEnd < contentEnd && base[fieldEnd] != 0x2C { fieldEnd += 1 }
                    var (a, b) = (field, fieldEnd)
                    while a < b && (base[a] == 0x20 || base[a] == 0x09) { a += 1 }
                    while b > a && (base[b - 1] == 0x20 || base[b - 1] == 0x09) { b -= 1 }
                    if b - a >= 2 && base[a] == 0x22 && base[b - 1] == 0x22 { a += 1; b -= 1 }
                    let saved = base[b]
                    base[b] = 0
                    var parsedEnd: UnsafeMutablePointer<CChar>?
                    let value = strtof(base + a, &parsedEnd)
                    base[b] = saved
                    if a == b || parsedEnd != base + b {
                        if bad == nil {
                            let bytes = UnsafeRawBufferPointer(start: base + a, count: b - a)
                            bad = (row.count, String(decoding: bytes, as: UTF8.self))
                        }
                        row.append(.nan)
                    } else {
                        row.append(value)
                    }
                    if fieldEnd >= contentEnd { break }
                    field = fieldEnd + 1
                }
                let isFirst = columns < 0 && labels.isEmpty
                if isFirst && (header == .present || (header == .detect && bad != nil)) {
                    columns = row.count
                    columnsLine = line
                    continue
                }
                if let bad {
                    throw FormatError(.malformed, "\(source):\(line): field \(bad.index + 1) \"\(bad.text)\" is not a number")
                }
                if columns < 0 {
                    columns = row.count
                    columnsLine = line
                }
                guard row.count == columns else {
                    throw FormatError(.malformed, "\(source):\(line): \(row.count) fields, but line \(columnsLine) has \(columns); "
                        + "every line needs the same columns")
                }
                guard columns >= 2 else {
                    throw FormatError(.malformed, "\(source):\(line): only \(columns) field; a line needs a label and at least one feature")
                }
                let labelIndex = labelColumn < 0 ? columns + labelColumn : labelColumn
                guard labelIndex >= 0 && labelIndex < columns else {
                    throw FormatError(.invalidArgument, "\(source): label column \(labelColumn) is outside the \(columns) columns")
                }
                let label = row[labelIndex]
                guard label >= 0, label == label.rounded(), label < Float(Int32.max) else {
                    throw FormatError(.malformed, "\(source):\(line): label \(label) in column \(labelIndex + 1) "
                        + "is not a class index (an integer ≥ 0); is labelColumn right?")
                }
                labels.append(Int32(label))
                labelLines.append(line)
                for (index, value) in row.enumerated() where index != labelIndex { features.append(value) }
            }
        }
        text = []
        guard !labels.isEmpty else {
            throw FormatError(.malformed, "\(source): no data lines; the CSV file is empty")
        }
        let featureCount = columns - 1
        let shape = sampleShape ?? [featureCount]
        guard shape.allSatisfy({ $0 > 0 }), shape.reduce(1, *) == featureCount else {
            throw FormatError(.invalidArgument, "\(source): \(featureCount) features per line cannot be viewed as \(shape)")
        }
        let classes = try checkedLabels(labels, classCount: classCount, source: source,
                                        lineOf: { "line \(labelLines[$0])" })
        return Dataset(features: Tensor(shape: [labels.count] + shape, scalars: features),
                       labels: labels, classCount: classes)
    }
}
