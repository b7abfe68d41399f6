import Foundation
import MeshTensor
import Testing
@testable import MeshNN

struct IDXTests {
    static func images(_ count: Int, rows: Int = 3, cols: Int = 2) -> IDXFile {
        IDXFile(dataType: .uint8, shape: [count, rows, cols],
                payload: (0..<(count * rows * cols)).map { UInt8(truncatingIfNeeded: $0 * 37) })
    }

    static func labels(_ values: [UInt8]) -> IDXFile {
        IDXFile(dataType: .uint8, shape: [values.count], payload: values)
    }

    @Test func parsesRawAndGzipIdentically() throws {
        let file = Self.images(5)
        let raw = file.encoded()
        #expect(Array(raw.prefix(8)) == [0, 0, 8, 3, 0, 0, 0, 5])
        #expect(try IDXFile(data: raw) == file)
        let gz = Gzip.compress(raw)
        #expect(Gzip.isCompressed(gz))
        #expect(try IDXFile(data: gz) == file)
        // Concatenated gzip members decode as one stream.
        let split = Gzip.compress(raw.prefix(10)) + Gzip.compress(raw.dropFirst(10))
        #expect(try IDXFile(data: split) == file)
    }

    @Test(arguments: IDXFile.DataType.allCases)
    func decodesEveryElementType(_ type: IDXFile.DataType) throws {
        let values: [Double] = [0, 1, -2, 100, 7]
        var payload: [UInt8] = []
        for value in values {
            switch type {
            case .uint8: payload.append(UInt8(abs(value)))
            case .int8: payload.append(UInt8(bitPattern: Int8(value)))
            case .int16: payload += withUnsafeBytes(of: Int16(value).bigEndian, Array.init)
            case .int32: payload += withUnsafeBytes(of: Int32(value).bigEndian, Array.init)
            case .float32: payload += withUnsafeBytes(of: Float(value).bitPattern.bigEndian, Array.init)
            case .float64: payload += withUnsafeBytes(of: value.bitPattern.bigEndian, Array.init)
            }
        }
        let file = try IDXFile(data: IDXFile(dataType: type, shape: [5], payload: payload).encoded())
        let expected = values.map { Float(type == .uint8 ? abs($0) : $0) }
        #expect(file.floats() == expected)
        #expect(file.floats(dividingBy: 2) == expected.map { $0 / 2 })
        if type == .float32 || type == .float64 {
            #expect(throws: FormatError.self) { try file.integers() }
        } else {
            #expect(try file.integers() == expected.map { Int32($0) })
        }
    }

    static let corrupt: [(bytes: [UInt8], code: FormatError.Code, message: String)] = [
        ([], .truncated, "0 bytes is too short"),
        ([0, 0, 8], .truncated, "too short for an IDX header"),
        ([0x50, 0x4B, 3, 4, 0, 0], .malformed, "magic 50 4b 03 is not an IDX header"),
        ([0, 0, 0x0A, 1, 0, 0, 0, 1, 0], .malformed, "magic 00 00 0a"),
        ([0, 0, 8, 0], .malformed, "rank 0"),
        ([0, 0, 8, 2, 0, 0, 0, 2], .truncated, "lists 2 dimensions but the file ends after 8 bytes"),
        ([0, 0, 8, 1, 0, 0, 0, 4, 1, 2], .truncated, "shape [4] of uint8 needs 4 data bytes but the file has 2"),
        ([0, 0, 0x0C, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0], .truncated, "needs 8 data bytes but the file has 7"),
        ([0, 0, 8, 1, 0, 0, 0, 1, 1, 2], .malformed, "1 unexpected bytes after"),
        ([0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], .malformed, "the header is corrupt"),
    ]

    @Test(arguments: corrupt)
    func corruptFilesGiveErrors(bytes: [UInt8], code: FormatError.Code, message: String) throws {
        let error = try #require(throws: FormatError.self) { try IDXFile(data: Data(bytes), source: "bad-idx3-ubyte") }
        #expect(error.code == code, "\(error)")
        #expect(error.message.hasPrefix("bad-idx3-ubyte: "), "\(error)")
        #expect(error.message.contains(message), "\(error)")
    }

    @Test func truncatedGzipIsAnErrorAtEveryLength() throws {
        let gz = Gzip.compress(Self.images(20).encoded())
        for length in 2..<gz.count {
            let error = try #require(throws: FormatError.self) { try IDXFile(data: gz.prefix(length), source: "t.gz") }
            #expect(error.code == .truncated || error.code == .malformed, "\(length): \(error)")
        }
        let error = try #require(throws: FormatError.self) { try IDXFile(data: gz.prefix(gz.count - 30), source: "t.gz") }
        #expect(error.code == .truncated)
        #expect(error.message.contains("t.gz: the gzip stream ends early"))
    }

    @Test func corruptGzipIsAnError() throws {
        var gz = Gzip.compress(Self.images(20).encoded())
        var rng = SeededGenerator(seed: 4)
        var failures = 0
        for _ in 0..<300 {
            var copy = gz
            let at = 10 + Int(rng.next() % UInt64(gz.count - 10))
            copy[at] ^= UInt8(1 + rng.next() % 255)
            do { _ = try IDXFile(data: copy) } catch is FormatError { failures += 1 }
        }
        #expect(failures > 250)  // the gzip CRC catches nearly every flip
        gz[gz.count - 5] ^= 0xFF  // inside the CRC-32 trailer
        let error = try #require(throws: FormatError.self) { try IDXFile(data: gz, source: "c.gz") }
        #expect(error.code == .malformed && error.message.contains("corrupt gzip data"), "\(error)")
    }

    @Test func loadsAnImageAndLabelPair() throws {
        let directory = try TorchInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let images = directory.appendingPathComponent("images.gz")
        let labels = directory.appendingPathComponent("labels")
        try Gzip.compress(Self.images(4).encoded()).write(to: images)
        try Self.labels([3, 0, 1, 3]).encoded().write(to: labels)
        let data = try Dataset.idx(images: images, labels: labels)
        #expect(data.count == 4 && data.sampleShape == [3, 2] && data.classCount == 4)
        #expect(data.labels == [3, 0, 1, 3])
        #expect(data.features.scalars[1] == Float(37) / 255)
        let shaped = try Dataset.idx(images: images, labels: labels, sampleShape: [1, 3, 2], classCount: 10)
        #expect(shaped.features.shape == [4, 1, 3, 2] && shaped.classCount == 10)

        try Self.labels([3, 0, 1]).encoded().write(to: labels)
        let mismatch = try #require(throws: FormatError.self) { try Dataset.idx(images: images, labels: labels) }
        #expect(mismatch.message.contains("holds 4 samples but") && mismatch.message.contains("holds 3 labels"))

        try Self.labels([3, 0, 1, 12]).encoded().write(to: labels)
        let range = try #require(throws: FormatError.self) { try Dataset.idx(images: images, labels: labels, classCount: 10) }
        #expect(range.message.contains("sample 3: label 12 is not a class index in 0..<10"), "\(range)")

        let missing = try #require(throws: FormatError.self) {
            try Dataset.idx(images: directory.appendingPathComponent("none.gz"), labels: labels)
        }
        #expect(missing.code == .io && missing.message.contains("none.gz"))
    }

    @Test func fashionMNISTMissingDirectorySaysWhatToInstall() throws {
        let error = try #require(throws: FormatError.self) {
            try Dataset.fashionMNIST(split: .test, directory: URL(fileURLWithPath: "/nonexistent"))
        }
        #expect(error.code == .io)
        #expect(error.message.contains("/nonexistent/t10k-images-idx3-ubyte.gz") && error.message.contains("dataset-fashion-mnist"))
    }

    /// The real dataset from Debian's `dataset-fashion-mnist` (installed by scripts/setup).
    @Test func loadsRealFashionMNIST() throws {
        let test = try Dataset.fashionMNIST(split: .test)
        #expect(test.count == 10_000)
        #expect(test.features.shape == [10_000, 1, 28, 28])
        #expect(test.classCount == 10)
        #expect(test.labelCounts() == Array(repeating: 1000, count: 10))
        let train = try Dataset.fashionMNIST(split: .train)
        #expect(train.count == 60_000 && train.sampleShape == [1, 28, 28])
        #expect(train.labelCounts() == Array(repeating: 6000, count: 10))
        #expect(train.labels.prefix(5) == [9, 0, 0, 3, 0])
        let (minimum, maximum) = train.features.withUnsafeBufferPointer { ($0.min()!, $0.max()!) }
        #expect(minimum == 0 && maximum == 1)
        let stats = train.featureStatistics()
        #expect(abs(stats.mean - 0.2860) < 0.0005 && abs(stats.std - 0.3530) < 0.0005, "\(stats)")
    }
}
