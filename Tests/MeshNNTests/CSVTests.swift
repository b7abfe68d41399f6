import Foundation
import MeshTensor
import Testing
@testable import MeshNN

struct CSVTests {
    static func load(_ text: String, labelColumn: Int = 0, header: Dataset.CSVHeader = .detect,
                     sampleShape: [Int]? = nil, classCount: Int? = nil) throws -> Dataset {
        try Dataset.csv(data: Data(text.utf8), source: "d.csv", labelColumn: labelColumn, header: header,
                        sampleShape: sampleShape, classCount: classCount)
    }

    @Test func parsesWithDetectedHeader() throws {
        let data = try Self.load("label,a,b,c\n1,0.5,-2,3e2\r\n0, 1 ,\"2\",3\n\n2,.25,0,-0\n")
        #expect(data.count == 3 && data.sampleShape == [3] && data.classCount == 3)
        #expect(data.labels == [1, 0, 2])
        #expect(data.features.scalars == [0.5, -2, 300, 1, 2, 3, 0.25, 0, -0])
    }

    @Test func parsesWithoutHeaderAndLabelLast() throws {
        let data = try Self.load("1,2,3,4,1\n5,6,7,8,0", labelColumn: -1, sampleShape: [1, 2, 2], classCount: 5)
        #expect(data.labels == [1, 0] && data.features.shape == [2, 1, 2, 2] && data.classCount == 5)
        #expect(data.features.scalars == [1, 2, 3, 4, 5, 6, 7, 8])
    }

    @Test func explicitHeaderSkipsANumericFirstLine() throws {
        let data = try Self.load("0,1\n1,9\n", header: .present)
        #expect(data.count == 1 && data.labels == [1] && data.features.scalars == [9])
        let absent = try #require(throws: FormatError.self) { try Self.load("y,x\n1,9\n", header: .absent) }
        #expect(absent.message.contains("d.csv:1: field 1 \"y\" is not a number"))
    }

    static let invalid: [(text: String, message: String)] = [
        ("", "no data lines"),
        ("label,x\n", "no data lines"),
        ("1,2,3\n0,1\n", "d.csv:2: 2 fields, but line 1 has 3"),
        ("a,b,c\n1,2,3\n0,1,2,3\n", "d.csv:3: 4 fields, but line 1 has 3"),
        ("1,2\n0,x7\n", "d.csv:2: field 2 \"x7\" is not a number"),
        ("1,2\n0,\n", "d.csv:2: field 2 \"\" is not a number"),
        ("1,2\n0,3 4\n", "d.csv:2: field 2 \"3 4\" is not a number"),
        ("1,2\n-1,3\n", "d.csv:2: label -1.0 in column 1 is not a class index"),
        ("1,2\n1.5,3\n", "d.csv:2: label 1.5 in column 1 is not a class index"),
        ("7\n", "d.csv:1: only 1 field"),
    ]

    @Test(arguments: invalid)
    func errorsNameTheLine(text: String, message: String) throws {
        let error = try #require(throws: FormatError.self) { try Self.load(text) }
        #expect(error.message.contains(message), "\(error)")
    }

    @Test func classCountAndShapeAreChecked() throws {
        let range = try #require(throws: FormatError.self) { try Self.load("1,2\n\n4,3\n", classCount: 3) }
        #expect(range.message.contains("d.csv: line 3: label 4 is not a class index in 0..<3"), "\(range)")
        let shape = try #require(throws: FormatError.self) { try Self.load("1,2,3\n", sampleShape: [3]) }
        #expect(shape.message.contains("2 features per line cannot be viewed as [3]"))
        let column = try #require(throws: FormatError.self) { try Self.load("1,2,3\n", labelColumn: 5) }
        #expect(column.message.contains("label column 5 is outside the 3 columns"))
    }

    @Test func readsAFileAndReportsAMissingOne() throws {
        let directory = try TorchInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("d.csv")
        try Data("y,x1,x2\n1,0.5,1.5\n0,2,3\n".utf8).write(to: url)
        let data = try Dataset.csv(contentsOf: url)
        #expect(data.labels == [1, 0] && data.features.scalars == [0.5, 1.5, 2, 3])
        let missing = try #require(throws: FormatError.self) { try Dataset.csv(contentsOf: directory.appendingPathComponent("x.csv")) }
        #expect(missing.code == .io && missing.message.contains("x.csv"))
    }

    /// Random bytes never crash the parser.
    @Test func garbageNeverCrashes() {
        var rng = SeededGenerator(seed: 2)
        let alphabet = Array("0123456789,.-e\n\r \"x".utf8)
        for _ in 0..<500 {
            let bytes = (0..<Int(rng.next() % 60)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            _ = try? Dataset.csv(data: Data(bytes))
        }
    }
}
