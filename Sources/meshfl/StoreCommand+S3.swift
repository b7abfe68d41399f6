import ArgumentParser
import Foundation
import MeshStorage

/// `meshfl store s3 put|get`: objects on an S3-compatible service (Akave O3
/// through a TLS proxy, AWS, MinIO, LocalStack) with our own SigV4 and SHA-256.
///
/// ```
/// export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
/// meshfl store s3 put weights.bin --key jobs/7/w.bin --endpoint http://127.0.0.1:4566 --bucket meshfl
/// meshfl store s3 get jobs/7/w.bin --out w.bin --endpoint http://127.0.0.1:4566 --bucket meshfl
/// ```
extension StoreCommand {
    struct S3: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "s3",
            abstract: "Put and get objects on an S3-compatible service.",
            discussion: "Credentials come from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY. Each command prints a JSON line: key, bytes, sha256, seconds.",
            subcommands: [Put.self, Get.self])

        struct Endpoint: ParsableArguments {
            @Option(help: "The service's http:// URL (path-style).") var endpoint = "http://127.0.0.1:4566"
            @Option(help: "The region requests are signed for.") var region = "us-east-1"
            @Option(help: "The bucket.") var bucket = "meshfl"
            @Flag(help: "Create the bucket first (no error if it is ours already).") var createBucket = false

            func validate() throws {
                guard let url = URL(string: endpoint), url.host != nil else { throw ValidationError("--endpoint must look like http://127.0.0.1:4566") }
                guard url.scheme == "http" else {
                    throw ValidationError("--endpoint \(endpoint): only http:// is supported; for https services such as Akave O3 run a local TLS proxy and give its http://127.0.0.1:PORT")
                }
            }

            func store() async throws -> S3BlobStore {
                let env = ProcessInfo.processInfo.environment
                guard let key = env["AWS_ACCESS_KEY_ID"], let secret = env["AWS_SECRET_ACCESS_KEY"], !key.isEmpty, !secret.isEmpty else {
                    throw UsageError("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to the service's credentials (LocalStack: test / test)")
                }
                let s3 = try S3BlobStore(endpoint: URL(string: endpoint)!, region: region, bucket: bucket,
                                         credentials: .init(accessKeyID: key, secretAccessKey: secret))
                if createBucket { try await s3.createBucket() }
                return s3
            }
        }

        struct Report: Encodable {
            var key: String
            var bytes: Int64
            var sha256: String?
            var seconds: Double
        }

        static func report(_ info: BlobInfo, seconds: Double) throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let json = try encoder.encode(Report(key: info.key, bytes: info.size, sha256: info.sha256, seconds: seconds))
            FileHandle.standardOutput.write(json + Data("\n".utf8))
        }

        struct Put: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Upload a file (multipart from 16 MiB), its SHA-256 stored with it.")
            @OptionGroup var endpoint: Endpoint
            @Argument(help: "The file to upload.") var file: String
            @Option(help: "The object key (default: the file name).") var key: String?
            @Option(help: "Content type.") var contentType: String?

            func validate() throws {
                guard FileManager.default.isReadableFile(atPath: file) else { throw ValidationError("cannot read \(file); check the path") }
            }

            func run() async throws {
                let s3 = try await endpoint.store()
                let started = CommandLineOutput.now()
                do {
                    let info = try await s3.put(key: key ?? URL(filePath: file).lastPathComponent, file: URL(filePath: file), contentType: contentType)
                    try S3.report(info, seconds: CommandLineOutput.now() - started)
                } catch let error as StorageError {
                    throw UsageError(error.message)
                }
            }
        }

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Download an object to a file, checked against its stored SHA-256.")
            @OptionGroup var endpoint: Endpoint
            @Argument(help: "The object key.") var key: String
            @Option(name: .shortAndLong, help: "Where to write it.") var out: String

            func run() async throws {
                let s3 = try await endpoint.store()
                let started = CommandLineOutput.now()
                do {
                    let info = try await s3.get(key: key, to: URL(filePath: out))
                    try S3.report(info, seconds: CommandLineOutput.now() - started)
                } catch let error as StorageError {
                    throw UsageError(error.message)
                }
            }
        }
    }
}
