import NIOCore

extension P2PStream {
    /// Negotiates a protocol on a fresh stream as dialer (proposing `protocols` in order) or listener.
    func negotiate(dialerProposing protocols: [String]) async throws -> P2PStream {
        try await negotiate(MultistreamStateMachine(dialerProposing: protocols))
    }

    func negotiate(listenerSupporting protocols: [String]) async throws -> P2PStream {
        try await negotiate(MultistreamStateMachine(listenerSupporting: protocols))
    }

    private func negotiate(_ machine: MultistreamStateMachine) async throws -> P2PStream {
        var machine = machine
        var inbound = ByteBuffer()
        try await write(machine.start())
        while true {
            let action = try machine.receive(&inbound)
            if action.output.readableBytes > 0 { try await write(action.output) }
            if let selected = action.selected {
                if inbound.readableBytes > 0 { await unread(inbound) }
                var copy = self
                copy.protocolID = selected
                return copy
            }
            guard var more = try await read() else {
                throw Libp2pError(.protocolNegotiationFailed, "stream closed during protocol negotiation")
            }
            inbound.writeBuffer(&more)
        }
    }
}
