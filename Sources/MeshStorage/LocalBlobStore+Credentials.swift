public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto

extension LocalBlobStore {
    /// The node's presigning key pair, stored in `directory/presign-credentials.json`
    /// (mode 0600) and created at random on first use, so `meshfl store presign`
    /// and `meshfl store serve` agree without configuration.
    public static func nodeCredentials(in directory: URL) throws -> SigV4Credentials {
        struct Stored: Codable { var accessKeyID: String; var secretAccessKey: String }
        let path = directory.appending(path: "presign-credentials.json").path
        if let data = try FileOps.read(path) {
            do {
                let stored = try JSONDecoder().decode(Stored.self, from: data)
                return SigV4Credentials(accessKeyID: stored.accessKeyID, secretAccessKey: stored.secretAccessKey)
            } catch {
                throw StorageError(code: .io, message: "\(path) is unreadable; delete it to make a new key pair (URLs already issued stop working)", cause: error)
            }
        }
        func random(_ count: Int) -> String {
            SigV4Signer.hex(SymmetricKey(size: .init(bitCount: count * 8)).withUnsafeBytes { Array($0) })
        }
        let stored = Stored(accessKeyID: "MESHFL" + random(7).uppercased(), secretAccessKey: random(32))
        try FileOps.makeDirectory(directory.path)
        let temp = try FileOps.writeTemp(try JSONEncoder().encode(stored), in: directory.path)
        chmod(temp, 0o600)
        // Two processes racing here: link() fails for the second, which then reads the first's.
        if link(temp, path) != 0 {
            let code = errno
            unlink(temp)
            guard code == EEXIST else {
                throw StorageError(code: .io, message: "cannot create \(path); check permissions on the data directory", cause: Errno(call: "link", value: code))
            }
            return try nodeCredentials(in: directory)
        }
        unlink(temp)
        return SigV4Credentials(accessKeyID: stored.accessKeyID, secretAccessKey: stored.secretAccessKey)
    }
}
