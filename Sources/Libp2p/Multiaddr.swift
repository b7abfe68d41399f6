/// A multiaddr: a path of protocol components such as `/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…`.
///
/// Supports ip4, ip6, tcp, dns, dns4, dns6 and p2p (alias ipfs) in text and binary form.
///
/// ```swift
/// let addr = try Multiaddr("/ip4/127.0.0.1/tcp/4001")
/// let full = addr.appending(.p2p(peerID))
/// assert(try Multiaddr(bytes: full.bytes) == full)
/// ```
public struct Multiaddr: Hashable, Sendable, CustomStringConvertible {
    /// One protocol component and its value.
    public enum Component: Hashable, Sendable {
        /// An IPv4 address (4 bytes).
        case ip4([UInt8])
        /// An IPv6 address (16 bytes).
        case ip6([UInt8])
        /// A TCP port.
        case tcp(UInt16)
        /// A DNS name resolving to either family.
        case dns(String)
        /// A DNS name resolving to IPv4.
        case dns4(String)
        /// A DNS name resolving to IPv6.
        case dns6(String)
        /// A peer id.
        case p2p(PeerID)

        var code: UInt64 {
            switch self {
            case .ip4: 4
            case .tcp: 6
            case .ip6: 41
            case .dns: 53
            case .dns4: 54
            case .dns6: 55
            case .p2p: 421
            }
        }

        var name: String {
            switch self {
            case .ip4: "ip4"
            case .tcp: "tcp"
            case .ip6: "ip6"
            case .dns: "dns"
            case .dns4: "dns4"
            case .dns6: "dns6"
            case .p2p: "p2p"
            }
        }
    }

    /// The components in order.
    public var components: [Component]

    /// A multiaddr from components.
    public init(components: [Component]) { self.components = components }

    /// Parses the text form.
    ///
    /// - Throws: ``Libp2pError/Code/invalidMultiaddr`` naming the offending part.
    public init(_ text: String) throws(Libp2pError) {
        guard text.hasPrefix("/") else { throw Libp2pError(.invalidMultiaddr, "multiaddr '\(text)' must start with '/'") }
        // Split on the "/" scalar, not on Characters: a DNS name may start with a combining mark that
        // would otherwise fuse with the preceding "/" into one grapheme (found by fuzzing).
        var parts = text.unicodeScalars.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            .map { String(String.UnicodeScalarView($0)) }
        if parts.last == "" { parts.removeLast() }
        var result: [Component] = []
        var i = 0
        while i < parts.count {
            let name = parts[i]
            guard i + 1 < parts.count else {
                throw Libp2pError(.invalidMultiaddr, "multiaddr '\(text)': '\(name)' needs a value")
            }
            let value = parts[i + 1]
            i += 2
            switch name {
            case "ip4":
                guard let b = IPAddressText.parseIPv4(value) else { throw Libp2pError(.invalidMultiaddr, "invalid ip4 '\(value)'") }
                result.append(.ip4(b))
            case "ip6":
                guard let b = IPAddressText.parseIPv6(value) else { throw Libp2pError(.invalidMultiaddr, "invalid ip6 '\(value)'") }
                result.append(.ip6(b))
            case "tcp":
                guard let port = UInt16(value) else { throw Libp2pError(.invalidMultiaddr, "invalid tcp port '\(value)'") }
                result.append(.tcp(port))
            case "dns", "dns4", "dns6":
                guard !value.isEmpty, value.utf8.count <= 255 else { throw Libp2pError(.invalidMultiaddr, "invalid DNS name '\(value)'") }
                result.append(name == "dns" ? .dns(value) : name == "dns4" ? .dns4(value) : .dns6(value))
            case "p2p", "ipfs":
                do {
                    result.append(.p2p(try PeerID(string: value)))
                } catch {
                    throw Libp2pError(.invalidMultiaddr, "invalid peer id '\(value)' in multiaddr", cause: error)
                }
            default:
                throw Libp2pError(.invalidMultiaddr, "unsupported multiaddr protocol '\(name)' in '\(text)'")
            }
        }
        guard !result.isEmpty else { throw Libp2pError(.invalidMultiaddr, "empty multiaddr") }
        components = result
    }

    /// Decodes the binary form.
    public init(bytes: some Collection<UInt8>) throws(Libp2pError) {
        let all = Array(bytes)
        var offset = 0
        var result: [Component] = []
        do throws(Libp2pError) {
            while offset < all.count {
                let code = try UVarint.decodeComplete(all[...], offset: &offset)
                func take(_ n: Int) throws(Libp2pError) -> [UInt8] {
                    guard n >= 0, all.count - offset >= n else {
                        throw Libp2pError(.invalidMultiaddr, "truncated multiaddr component \(code)")
                    }
                    defer { offset += n }
                    return Array(all[offset..<offset + n])
                }
                func takeSized() throws(Libp2pError) -> [UInt8] {
                    let n = try UVarint.decodeComplete(all[...], offset: &offset)
                    guard n <= UInt64(all.count - offset) else {
                        throw Libp2pError(.invalidMultiaddr, "multiaddr component \(code) length exceeds input")
                    }
                    return try take(Int(n))
                }
                switch code {
                case 4: result.append(.ip4(try take(4)))
                case 41: result.append(.ip6(try take(16)))
                case 6:
                    let p = try take(2)
                    result.append(.tcp(UInt16(p[0]) << 8 | UInt16(p[1])))
                case 53, 54, 55:
                    let raw = try takeSized()
                    guard let name = String(validating: raw, as: UTF8.self), !name.isEmpty, !name.contains("/") else {
                        throw Libp2pError(.invalidMultiaddr, "invalid DNS name in multiaddr")
                    }
                    result.append(code == 53 ? .dns(name) : code == 54 ? .dns4(name) : .dns6(name))
                case 421:
                    result.append(.p2p(try PeerID(bytes: try takeSized())))
                default:
                    throw Libp2pError(.invalidMultiaddr, "unsupported multiaddr protocol code \(code)")
                }
            }
        } catch {
            throw error.code == .invalidMultiaddr ? error : Libp2pError(.invalidMultiaddr, "malformed binary multiaddr", cause: error)
        }
        guard !result.isEmpty else { throw Libp2pError(.invalidMultiaddr, "empty multiaddr") }
        components = result
    }

    /// The binary form.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        for c in components {
            UVarint.encode(c.code, into: &out)
            switch c {
            case .ip4(let b), .ip6(let b): out += b
            case .tcp(let p): out += [UInt8(p >> 8), UInt8(p & 0xff)]
            case .dns(let s), .dns4(let s), .dns6(let s):
                UVarint.encode(UInt64(s.utf8.count), into: &out)
                out += Array(s.utf8)
            case .p2p(let id):
                UVarint.encode(UInt64(id.bytes.count), into: &out)
                out += id.bytes
            }
        }
        return out
    }

    /// The text form.
    public var description: String {
        var text = ""
        for c in components {
            text += "/" + c.name + "/"
            switch c {
            case .ip4(let b): text += IPAddressText.formatIPv4(b)
            case .ip6(let b): text += IPAddressText.formatIPv6(b)
            case .tcp(let p): text += String(p)
            case .dns(let s), .dns4(let s), .dns6(let s): text += s
            case .p2p(let id): text += id.description
            }
        }
        return text
    }

    /// The peer id of the last `/p2p/` component, if any.
    public var peerID: PeerID? {
        for c in components.reversed() { if case .p2p(let id) = c { return id } }
        return nil
    }

    /// This address without its trailing `/p2p/…` component.
    public var withoutPeerID: Multiaddr {
        var copy = self
        if case .p2p = copy.components.last { copy.components.removeLast() }
        return copy
    }

    /// This address with `component` appended.
    public func appending(_ component: Component) -> Multiaddr {
        Multiaddr(components: components + [component])
    }

    /// Host and port for a TCP dial or listen (`/ip4|ip6|dns*/…/tcp/…`), or `nil`.
    public var tcpHostPort: (host: String, port: Int)? {
        guard components.count >= 2, case .tcp(let port) = components[1] else { return nil }
        switch components[0] {
        case .ip4(let b): return (IPAddressText.formatIPv4(b), Int(port))
        case .ip6(let b): return (IPAddressText.formatIPv6(b), Int(port))
        case .dns(let s), .dns4(let s), .dns6(let s): return (s, Int(port))
        default: return nil
        }
    }
}
