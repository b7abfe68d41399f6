/// The pubsub protocol a peer speaks, as negotiated on its stream.
public enum PubsubProtocol: String, Sendable, CaseIterable {
    /// Gossipsub v1.1: scoring, PX, backoff.
    case meshsub11 = "/meshsub/1.1.0"
    /// Gossipsub v1.0: mesh and gossip, no PX or backoff in PRUNE.
    case meshsub10 = "/meshsub/1.0.0"
    /// Floodsub: no mesh and no control messages; gets every message of its topics.
    case floodsub = "/floodsub/1.0.0"

    /// Whether the peer understands gossipsub control messages.
    public var isGossipsub: Bool { self != .floodsub }

    /// Protocol ids in order of preference, for a stream handler or a dial.
    public static let preferenceOrder: [String] = allCases.map(\.rawValue)
}
