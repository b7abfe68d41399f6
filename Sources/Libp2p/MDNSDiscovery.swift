public import NIOCore
import NIOPosix

/// libp2p mDNS discovery on the local network: asks `_p2p._udp.local` every `interval`, answers others'
/// questions with this peer's addresses, and reports the peers it hears of. Off unless started.
///
/// By default it uses the mDNS group 224.0.0.251:5353. Given a unicast `group` (tests use 127.0.0.1) it
/// sends its queries there instead and binds where told, so it can run without multicast.
///
/// ```swift
/// let mdns = MDNSDiscovery(peer: host.peerID, addresses: host.listenAddresses)
/// try await mdns.start { address in Task { try? await host.connect(to: address) } }
/// ```
public actor MDNSDiscovery {
    /// The mDNS multicast group and port.
    public static let mdnsGroup = try! SocketAddress(ipAddress: "224.0.0.251", port: 5353)

    let peer: PeerID
    var addresses: [Multiaddr]
    let group: SocketAddress
    let bind: SocketAddress
    let interval: Duration
    /// This peer's instance name (random, as the spec asks, so it does not leak the peer id).
    let peerName: String
    var channel: (any Channel)?
    var ticker: Task<Void, Never>?

    /// Creates the service for `peer` announcing `addresses` (a wildcard `/ip4/0.0.0.0/` one stands for
    /// every IPv4 interface address but loopback).
    public init(peer: PeerID, addresses: [Multiaddr], group: SocketAddress = MDNSDiscovery.mdnsGroup,
                bind: SocketAddress? = nil, interval: Duration = .seconds(10)) {
        self.peer = peer
        self.addresses = addresses.map { $0.withoutPeerID.appending(.p2p(peer)) }
        self.group = group
        self.bind = bind ?? (try! SocketAddress(ipAddress: "0.0.0.0", port: group.port ?? 5353))
        self.interval = interval
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        peerName = String((0..<32).map { _ in alphabet.randomElement()! })
    }

    /// The address the socket is bound to, once started.
    public var localAddress: SocketAddress? { channel?.localAddress }

    /// Binds, joins the group (if multicast), and starts asking; `found` gets every other peer's address.
    public func start(found: @escaping @Sendable (Multiaddr) -> Void) async throws {
        let me = peer
        let handler = Handler(onPacket: { [weak self] packet, from in
            guard let self else { return }
            Task { await self.received(packet, from: from, found: found, me: me) }
        })
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { $0.pipeline.addHandler(handler) }
            .bind(to: bind).get()
        if isMulticast(group), let multicast = channel as? any MulticastChannel {
            try await multicast.joinGroup(group).get()
        }
        self.channel = channel
        addresses = Self.expandWildcards(addresses)
        let interval = self.interval
        ticker = Task { [weak self] in
            while !Task.isCancelled {
                await self?.send(MDNSPacket.query(), to: nil)
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Stops asking and closes the socket.
    public func stop() async {
        ticker?.cancel()
        ticker = nil
        try? await channel?.close()
        channel = nil
    }

    /// Replaces `/ip4/0.0.0.0/…` by the same address on each non-loopback IPv4 interface.
    static func expandWildcards(_ addresses: [Multiaddr]) -> [Multiaddr] {
        let interfaces = ((try? System.enumerateDevices()) ?? []).compactMap { device -> [UInt8]? in
            guard case .v4? = device.address, let ip = device.address?.ipAddress, !ip.hasPrefix("127.") else { return nil }
            let parts = ip.split(separator: ".").compactMap { UInt8($0) }
            return parts.count == 4 ? parts : nil
        }
        return addresses.flatMap { address -> [Multiaddr] in
            guard case .ip4(let bytes)? = address.components.first, bytes == [0, 0, 0, 0] else { return [address] }
            return interfaces.map { ip in
                var copy = address
                copy.components[0] = .ip4(ip)
                return copy
            }
        }
    }

    func isMulticast(_ address: SocketAddress) -> Bool {
        guard case .v4 = address, let ip = address.ipAddress, let first = ip.split(separator: ".").first.flatMap({ Int($0) }) else {
            return false
        }
        return (224...239).contains(first)
    }

    func received(_ bytes: [UInt8], from sender: SocketAddress, found: @Sendable (Multiaddr) -> Void, me: PeerID) {
        guard let packet = try? MDNSPacket(bytes: bytes) else { return }
        if packet.asksForPeers {
            // A querier on a port other than 5353 is a one-shot (legacy) querier: answer it directly.
            let unicast = sender.port != 5353 || !isMulticast(group)
            send(MDNSPacket.response(peerName: peerName, addresses: addresses), to: unicast ? sender : nil)
        } else if packet.isResponse {
            for address in packet.dnsaddrs where address.peerID != me { found(address) }
        }
    }

    func send(_ bytes: [UInt8], to target: SocketAddress?) {
        guard let channel else { return }
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: target ?? group, data: buffer), promise: nil)
    }

    final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let onPacket: @Sendable ([UInt8], SocketAddress) -> Void

        init(onPacket: @escaping @Sendable ([UInt8], SocketAddress) -> Void) { self.onPacket = onPacket }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            guard envelope.data.readableBytes <= MDNSPacket.maxSize else { return }
            onPacket(Array(envelope.data.readableBytesView), envelope.remoteAddress)
        }
    }
}
