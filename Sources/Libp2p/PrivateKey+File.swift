import Foundation

extension PrivateKey {
    /// Reads a key file holding the `PrivateKey` protobuf.
    public init(contentsOfFile path: String) throws(Libp2pError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw Libp2pError(.io, "cannot read key file \(path); create one with `meshfl p2p id --key \(path)`", cause: error)
        }
        try self.init(protobuf: [UInt8](data))
    }

    /// Writes the `PrivateKey` protobuf to `path` with mode 0600.
    public func write(toFile path: String) throws(Libp2pError) {
        do {
            try Data(protobufBytes).write(to: URL(fileURLWithPath: path), options: .atomic)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        } catch {
            throw Libp2pError(.io, "cannot write key file \(path); check the directory exists and is writable", cause: error)
        }
    }

    /// Loads the key at `path`, or creates and saves a new one if the file does not exist.
    public static func loadOrCreate(atPath path: String) throws(Libp2pError) -> PrivateKey {
        if FileManager.default.fileExists(atPath: path) { return try PrivateKey(contentsOfFile: path) }
        let key = PrivateKey.generate()
        try key.write(toFile: path)
        return key
    }
}
