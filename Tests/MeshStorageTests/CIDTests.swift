import Foundation
import Testing
@testable import MeshStorage

struct CIDTests {
    @Test func helloWorldMatchesTheKnownCID() throws {
        let cid = CID(of: Data("hello world".utf8))
        #expect(cid.description == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e")
        #expect(try CID(parsing: cid.description) == cid)
        #expect(cid.bytes.prefix(4) == [0x01, 0x55, 0x12, 0x20])
    }

    @Test(arguments: [
        "",                                   // empty
        "Qmfoo",                              // base58, CIDv0
        "BAFKREIFZJUT3TE2NHYEKKLSS27NH3K72YSCO7Y32KOAO5EEI66WOF36N5E",  // upper case
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5",   // truncated
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5ea", // too long
        "bafyreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",  // dag-cbor codec
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n51",  // '1' not base32
    ])
    func malformedStringsAreRejected(_ text: String) {
        #expect(throws: StorageError.self) { try CID(parsing: text) }
    }

    @Test func cidsAgreeWithPythonMultiformats() throws {
        let python = TestSupport.repoRoot.appending(path: ".venv-interop/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            Issue.record("no interop venv at \(python); run scripts/setup")
            return
        }
        var inputs: [Data] = [Data(), Data([0]), Data("hello world".utf8), Data(repeating: 0xff, count: 1000)]
        for n in [1, 31, 32, 33, 255, 4096, 100_000] { inputs.append(TestSupport.bytes(n, seed: UInt64(n))) }
        let hex = inputs.map { $0.map { String(format: "%02x", $0) }.joined() }.joined(separator: "\n") + "\n"
        let script = TestSupport.repoRoot.appending(path: "tests/python/storage/cids.py").path
        let (status, out, err) = try TestSupport.run(python, [script], input: Data(hex.utf8))
        try #require(status == 0, "python failed: \(err)")
        let expected = out.split(separator: "\n").map(String.init)
        #expect(expected.count == inputs.count)
        for (input, text) in zip(inputs, expected) {
            #expect(CID(of: input).description == text)
            #expect(try CID(parsing: text) == CID(of: input))
        }
    }

    @Test func codableUsesTheStringForm() throws {
        let cid = CID(of: Data("x".utf8))
        let json = try JSONEncoder().encode([cid])
        #expect(String(decoding: json, as: UTF8.self) == "[\"\(cid)\"]")
        #expect(try JSONDecoder().decode([CID].self, from: json) == [cid])
    }
}
