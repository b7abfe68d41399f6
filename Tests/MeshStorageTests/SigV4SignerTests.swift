import Foundation
import Testing
@testable import MeshStorage

/// AWS's published SigV4 examples for S3 ("Signature Calculations for the
/// Authorization Header" and "Query String Authentication"), using AWS's
/// documented example key pair — not a real credential.
struct SigV4SignerTests {
    static let example = SigV4Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
    let signer = SigV4Signer(credentials: SigV4SignerTests.example, region: "us-east-1")
    let host = "examplebucket.s3.amazonaws.com"

    func signature(_ headers: [(String, String)]) -> String {
        let auth = headers.first { $0.0 == "Authorization" }!.1
        return String(auth.split(separator: "=").last!)
    }

    @Test func timestampsFormatAndParse() {
        #expect(SigV4Signer.timestamp(Self.date) == "20130524T000000Z")
        #expect(SigV4Signer.timestamp(Date(timeIntervalSince1970: 951_782_400)) == "20000229T000000Z")
        #expect(SigV4Signer.timestamp(Date(timeIntervalSince1970: 4_102_444_799)) == "20991231T235959Z")
        #expect(SigV4Signer.parseTimestamp("20130524T000000Z") == Self.date)
        #expect(SigV4Signer.parseTimestamp("20130230T000000Z") == nil)
        #expect(SigV4Signer.parseTimestamp("2013-05-24") == nil)
    }

    @Test func presignMatchesAWSExample() {
        let request = SigV4Request(method: "GET", host: host, path: "/test.txt")
        let query = signer.presignedQuery(request, date: Self.date, expires: 86400)
        #expect(query == "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    }

    @Test func getObjectWithRangeMatchesAWSExample() {
        let request = SigV4Request(method: "GET", host: host, path: "/test.txt", headers: [("Range", "bytes=0-9")])
        let headers = signer.authorizationHeaders(request, payloadHash: SigV4Signer.emptyPayloadHash, date: Self.date)
        #expect(headers.first { $0.0 == "Authorization" }?.1 == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test func putObjectMatchesAWSExample() {
        let body = Data("Welcome to Amazon S3.".utf8)
        let hash = SigV4Signer.sha256Hex(body)
        #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let request = SigV4Request(method: "PUT", host: host, path: "/test$file.text", headers: [
            ("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ])
        let headers = signer.authorizationHeaders(request, payloadHash: hash, date: Self.date)
        #expect(signature(headers) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test func getBucketLifecycleMatchesAWSExample() {
        let request = SigV4Request(method: "GET", host: host, path: "/", query: [("lifecycle", "")])
        #expect(signature(signer.authorizationHeaders(request, payloadHash: SigV4Signer.emptyPayloadHash, date: Self.date)) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test func listObjectsMatchesAWSExample() {
        let request = SigV4Request(method: "GET", host: host, path: "/", query: [("prefix", "J"), ("max-keys", "2")])
        #expect(signature(signer.authorizationHeaders(request, payloadHash: SigV4Signer.emptyPayloadHash, date: Self.date)) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func uriEncodingFollowsSigV4() {
        #expect(SigV4Signer.uriEncode("a b/c~d_e.f-g", keepSlash: true) == "a%20b/c~d_e.f-g")
        #expect(SigV4Signer.uriEncode("a/b+c=é", keepSlash: false) == "a%2Fb%2Bc%3D%C3%A9")
        #expect(SigV4Signer.uriEncode("!'()*", keepSlash: false) == "%21%27%28%29%2A")
    }

    @Test func percentDecodingAgreesWithFoundation() {
        for text in ["plain", "a%20b", "a%2Fb%2Bc%3D%C3%A9", "%e2%82%ac", "x+y", "100%", "%zz", "%4", "%C3", "/meshfl/a%20b.bin", ""] {
            #expect(SigV4Signer.percentDecode(text[...], plusIsSpace: false) == text.removingPercentEncoding, "\(text)")
            #expect(SigV4Signer.percentDecode(text[...], plusIsSpace: true)
                    == text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding, "\(text) with + as space")
        }
        let (path, query) = SigV4Verifier.splitTarget("/meshfl/a%20b.bin?X-Amz-Credential=k%2F20250101%2Fus-east-1&flag&q=a+b%2Bc")
        #expect(path == "/meshfl/a b.bin")
        #expect(query.map(\.0) == ["X-Amz-Credential", "flag", "q"] && query.map(\.1) == ["k/20250101/us-east-1", "", "a b+c"])
    }

    // MARK: Verification

    func presigned(_ method: String, path: String = "/meshfl/a b.bin", contentType: String? = nil, date: Date = SigV4SignerTests.date, expires: Int = 600) -> [(String, String)] {
        let request = SigV4Request(method: method, host: "127.0.0.1:9000", path: path, headers: contentType.map { [("content-type", $0)] } ?? [])
        return SigV4Verifier.splitTarget("/x?" + signer.presignedQuery(request, date: date, expires: expires)).query
    }

    var verifier: SigV4Verifier { SigV4Verifier(credentials: [Self.example], region: "us-east-1") }

    func check(_ method: String, path: String = "/meshfl/a b.bin", query: [(String, String)], headers: [(String, String)] = [], now: Date = SigV4SignerTests.date.addingTimeInterval(10)) throws {
        try verifier.verifyPresigned(method: method, host: "127.0.0.1:9000", path: path, query: query, headers: headers, now: now)
    }

    @Test func aPresignedURLVerifies() throws {
        try check("GET", query: presigned("GET"))
        try check("PUT", query: presigned("PUT", contentType: "text/plain"), headers: [("Content-Type", "text/plain")])
    }

    @Test func tamperedExpiredAndMisusedURLsAreRefused() {
        let get = presigned("GET")
        func refused(_ body: () throws -> Void) -> Bool {
            do { try body(); return false } catch let error as StorageError { return error.code == .signature } catch { return false }
        }
        var tampered = get
        let index = tampered.firstIndex { $0.0 == "X-Amz-Signature" }!
        var sig = Array(tampered[index].1)
        sig[0] = sig[0] == "0" ? "1" : "0"
        tampered[index].1 = String(sig)
        #expect(refused { try check("GET", query: tampered) })
        #expect(refused { try check("GET", path: "/meshfl/other.bin", query: get) })
        #expect(refused { try check("PUT", query: get) })
        #expect(refused { try check("GET", query: get, now: Self.date.addingTimeInterval(601)) })
        #expect(refused { try check("PUT", query: presigned("PUT", contentType: "text/plain"), headers: [("Content-Type", "text/html")]) })
        #expect(refused { try check("PUT", query: presigned("PUT", contentType: "text/plain")) })
        var longer = get
        longer[longer.firstIndex { $0.0 == "X-Amz-Expires" }!].1 = "6000"
        #expect(refused { try check("GET", query: longer, now: Self.date.addingTimeInterval(700)) })
        let stranger = SigV4Signer(credentials: .init(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wrong"), region: "us-east-1")
        let forged = SigV4Verifier.splitTarget("/x?" + stranger.presignedQuery(SigV4Request(method: "GET", host: "127.0.0.1:9000", path: "/meshfl/a b.bin"), date: Self.date, expires: 600)).query
        #expect(refused { try check("GET", query: forged) })
    }
}
