public import Foundation
public import MeshNN
public import MeshTensor
import MeshStorage

/// Weights as they travel: canonical safetensors bytes with torch names (no
/// metadata), whose SHA-256 is MeshLearning's `WeightsDigest` — the digest a
/// receipt names and the requester recomputes.
public enum Weights {
    public static func encode(_ tensors: [String: Tensor]) -> Data {
        SafeTensors(tensors).serialized()
    }

    public static func decode(_ data: Data, source: String) throws -> [String: Tensor] {
        try SafeTensors(data: data, source: source).tensors
    }

    public static func of(_ model: Sequential) -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: model.stateDict.map { ($0.name, $0.tensor) })
    }

    public static func sha256Hex(_ data: Data) -> String {
        SigV4Signer.sha256Hex(data)
    }
}

extension Weights {
    /// The digest of weights as a receipt names it: SHA-256 (hex) of their
    /// canonical safetensors bytes (the same as MeshLearning's `WeightsDigest`).
    public static func digest(_ tensors: [String: Tensor]) -> String {
        sha256Hex(encode(tensors))
    }
}
