/// libp2p for meshfl: identities, transports, secure channels, muxers and the host.
///
/// Placeholder until the first slice lands; see DESIGN.md "Networking".
public enum Libp2pModule {}
