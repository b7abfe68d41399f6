/// Reads from a Hedera mirror node's REST API (`GET` of a path such as
/// `/api/v1/topics/0.0.5005/messages?limit=100`); the body is JSON.
///
/// An HTTP implementation fetches `mirrorNodeURL + path`; tests serve pages in process.
public protocol MirrorNodeClient: Sendable {
    /// The body of `GET path`; throws for non-2xx answers.
    func get(_ path: String) async throws -> [UInt8]
}
