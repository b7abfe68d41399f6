import NIOCore
import Logging
import Foundation

/// The identify protocol message (`/ipfs/id/1.0.0` and `/ipfs/id/push/1.0.0`).
public struct Identify: Sendable, Equatable {
    /// Protocol id of identify.
    public static let protocolID = "/ipfs/id/1.0.0"
    /// Protocol id of identify push.
    public static let pushProtocolID = "/ipfs/id/push/1.0.0"
    /// Largest identify message accepted.
    public static let maxMessageSize = 64 * 1024

    /// The sender's `PublicKey` protobuf.
    public var publicKey: [UInt8]?
    /// Addresses the sender listens on.
    public var listenAddresses: [Multiaddr] = []
    /// Protocols the sender serves.
    public var protocols: [String] = []
    /// The address the sender sees us at.
    public var observedAddress: Multiaddr?
    /// e.g. `ipfs/0.1.0`.
    public var protocolVersion: String?
    /// e.g. `meshfl/0.1.0`.
    public var agentVersion: String?
    /// The sender's ``SignedPeerRecord`` envelope (field 8), which peers may pass on in peer exchange.
    public var signedPeerRecord: [UInt8]?

    /// An empty message.
    public init() {}

    /// Decodes the protobuf; unparseable addresses are skipped.
    public init(protobuf bytes: [UInt8]) throws(Libp2pError) {
        var reader = ProtobufReader(bytes)
        while let field = try reader.next() {
            switch field.number {
            case 1: publicKey = field.value.bytesValue
            case 2: if let b = field.value.bytesValue, let a = try? Multiaddr(bytes: b) { listenAddresses.append(a) }
            case 3: if let s = field.value.stringValue { protocols.append(s) }
            case 4: observedAddress = field.value.bytesValue.flatMap { try? Multiaddr(bytes: $0) }
            case 5: protocolVersion = field.value.stringValue
            case 6: agentVersion = field.value.stringValue
            case 8: signedPeerRecord = field.value.bytesValue
            default: continue
            }
        }
    }

    /// Decodes a message that may be uvarint-length-prefixed (py-libp2p, go-libp2p) or bare.
    static func decodeResponse(_ bytes: [UInt8]) throws(Libp2pError) -> Identify {
        if case .value(let length, let size)? = try? UVarint.decode(bytes), size + Int(length) == bytes.count, length > 0 {
            if let message = try? Identify(protobuf: Array(bytes[size...])) { return message }
        }
        return try Identify(protobuf: bytes)
    }

    /// The protobuf encoding.
    public var protobufBytes: [UInt8] {
        var w = ProtobufWriter()
        if let protocolVersion { w.writeString(field: 5, protocolVersion) }
        if let agentVersion { w.writeString(field: 6, agentVersion) }
        if let publicKey { w.writeBytes(field: 1, publicKey) }
        for a in listenAddresses { w.writeBytes(field: 2, a.bytes) }
        if let observedAddress { w.writeBytes(field: 4, observedAddress.bytes) }
        for p in protocols { w.writeString(field: 3, p) }
        if let signedPeerRecord { w.writeBytes(field: 8, signedPeerRecord) }
        return w.bytes
    }
}

extension Host {
    func identifyMessage(observed: Multiaddr?) -> Identify {
        var m = Identify()
        m.publicKey = identity.publicKey.protobufBytes
        m.listenAddresses = listenAddresses.flatMap(Self.advertisable)
        m.protocols = protocols
        m.observedAddress = observed
        m.protocolVersion = configuration.protocolVersion
        m.agentVersion = configuration.agentVersion
        m.signedPeerRecord = signedPeerRecord(for: m.listenAddresses)
        return m
    }

    /// This host's signed peer record for `addresses`: signed again only when they change (an Ed25519
    /// signature per identify would cost every new connection). The sequence number is the signing
    /// time in microseconds, so a later record always wins.
    func signedPeerRecord(for addresses: [Multiaddr]) -> [UInt8] {
        if let cached = signedPeerRecord, cached.addresses == addresses { return cached.envelope }
        let seq = UInt64(max(0, Date().timeIntervalSince1970 * 1_000_000))
        let envelope = SignedPeerRecord(peer: peerID, seq: seq, addresses: addresses).sealed(with: identity)
        signedPeerRecord = (addresses, envelope)
        return envelope
    }

    /// Wildcard listen addresses are not dialable; advertise loopback instead.
    static func advertisable(_ address: Multiaddr) -> [Multiaddr] {
        guard case .ip4(let b)? = address.components.first, b == [0, 0, 0, 0] else { return [address] }
        var copy = address
        copy.components[0] = .ip4([127, 0, 0, 1])
        return [copy]
    }

    func serveIdentify(_ stream: P2PStream) async {
        let message = identifyMessage(observed: stream.connection.remoteAddress)
        try? await stream.writeLengthPrefixedAndClose(message.protobufBytes)
    }

    func receiveIdentifyPush(_ stream: P2PStream) async {
        do {
            let bytes = try await stream.readToEnd(limit: Identify.maxMessageSize + 10)
            let message = try Identify.decodeResponse(Array(bytes.readableBytesView))
            apply(message, from: stream.remotePeer)
        } catch {
            logger.debug("bad identify push from \(stream.remotePeer): \(error)")
        }
        await stream.closeWrite()
    }

    private func apply(_ message: Identify, from peer: PeerID) {
        if let keyBytes = message.publicKey, let key = try? PublicKey(protobuf: keyBytes), peer.matches(key) {
            peerstore.setPublicKey(key, for: peer)
        }
        peerstore.addAddresses(message.listenAddresses, for: peer)
        peerstore.setProtocols(message.protocols, for: peer)
        peerstore.setVersions(agent: message.agentVersion, protocolVersion: message.protocolVersion, for: peer)
        // The same envelope as the one stored (a reconnecting peer) was verified and applied when it was stored.
        if let envelope = message.signedPeerRecord, envelope != peerstore.record(for: peer).signedPeerRecord,
           let record = try? SignedPeerRecord(envelope: envelope), record.peer == peer {
            peerstore.setSignedPeerRecord(envelope, for: peer)
            peerstore.addAddresses(record.addresses, for: peer)
        }
    }

    /// Runs identify against `peer` and records the answer in the peerstore.
    ///
    /// - Throws: ``Libp2pError/Code/invalidKey`` if the key sent does not match the peer id.
    @discardableResult
    public func identify(_ peer: PeerID) async throws -> Identify {
        try await identify(peer, over: try await connection(to: peer))
    }

    /// Runs identify on `connection` (never dialling another one).
    @discardableResult
    func identify(_ peer: PeerID, over connection: Connection) async throws -> Identify {
        let stream = try await connection.openStream(negotiating: [Identify.protocolID], timeout: configuration.negotiationTimeout)
        let bytes = try await connection.readToEnd(stream.id, limit: Identify.maxMessageSize + 10, timeout: .seconds(10))
        await stream.closeWrite()
        let message = try Identify.decodeResponse(Array(bytes.readableBytesView))
        if let keyBytes = message.publicKey {
            guard let key = try? PublicKey(protobuf: keyBytes), peer.matches(key) else {
                throw Libp2pError(.invalidKey, "identify from \(peer) carries a key that does not match its peer id")
            }
        }
        apply(message, from: peer)
        emit(.identified(peer))
        return message
    }

    /// Identifies a newly connected peer over its connection; a connection that closed first is left alone.
    func identifyOnConnect(_ peer: PeerID, over connection: Connection) async {
        do {
            try await identify(peer, over: connection)
        } catch {
            logger.debug("identify \(peer) failed: \(error)")
        }
    }

    /// Sends identify push to every connected peer that supports it (after our protocols changed).
    func pushIdentifyToAll() {
        let peers = connectedPeers.filter { peerstore.record(for: $0).protocols.contains(Identify.pushProtocolID) }
        guard !peers.isEmpty else { return }
        let message = identifyMessage(observed: nil).protobufBytes
        for peer in peers {
            Task {
                guard let stream = try? await self.newStream(to: peer, protocols: [Identify.pushProtocolID]) else { return }
                try? await stream.writeLengthPrefixedAndClose(message)
            }
        }
    }
}
