import NIOCore

/// The inbound side of a host's connection, on the channel's event loop: runs the upgrade
/// (``ConnectionUpgradeStateMachine``), then decrypts Noise transport frames and hands the
/// plaintext to the ``Connection``, whose actor runs on the same event loop.
///
/// Keeping the handshake and the read path here means no task or thread hop per message: a
/// handshake step is answered in the `channelRead` that brought it, and stream data reaches the
/// muxer in the same call that read it from the socket.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private enum State {
        /// Negotiating security and the muxer; `inbound` holds bytes not yet consumed.
        case upgrading(ConnectionUpgradeStateMachine, inbound: ByteBuffer)
        /// Upgraded; waiting for the host to attach a ``Connection`` (socket reads paused).
        case upgraded(NoiseTransportReader)
        /// Feeding a connection.
        case running(NoiseTransportReader, Connection)
        case closed
    }

    private var state: State
    private let upgraded: EventLoopPromise<ConnectionUpgrader.Result>
    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?
    private var readPending = false
    private var context: ChannelHandlerContext?

    /// A handler that upgrades the connection within `timeout` and completes `upgraded` with the outcome.
    init(upgrade: ConnectionUpgradeStateMachine, timeout: TimeAmount, upgraded: EventLoopPromise<ConnectionUpgrader.Result>) {
        state = .upgrading(upgrade, inbound: ByteBuffer())
        self.timeout = timeout
        self.upgraded = upgraded
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { begin(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        begin(context: context)
        context.fireChannelActive()
    }

    private func begin(context: ChannelHandlerContext) {
        guard timer == nil, case .upgrading(var machine, let inbound) = state else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = loopBound.value
            handler.fail(Libp2pError(.timeout, "connection handshake timed out after \(handler.timeout)"), context: context)
        }
        let hello = machine.start()
        state = .upgrading(machine, inbound: inbound)
        context.writeAndFlush(NIOAny(hello), promise: nil)
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        switch state {
        case .upgrading(var machine, var inbound):
            state = .closed  // keep `inbound` uniquely referenced while it grows; restored before any call out
            inbound.append(adopting: &bytes)
            let action: ConnectionUpgradeStateMachine.Action
            do {
                action = try machine.receive(&inbound)
            } catch {
                state = .upgrading(machine, inbound: inbound)
                fail(error, context: context)
                return
            }
            if let result = action.result {
                timer?.cancel()
                timer = nil
                state = .upgraded(result.reader)
            } else {
                state = .upgrading(machine, inbound: inbound)
            }
            if action.output.readableBytes > 0 { context.writeAndFlush(NIOAny(action.output), promise: nil) }
            if let result = action.result { upgraded.succeed(result) }

        case .upgraded(var reader):
            state = .closed
            reader.raw.append(adopting: &bytes)
            state = .upgraded(reader)

        case .running(var reader, let connection):
            state = .closed
            do {
                let plain = try reader.decrypt(appending: bytes)
                state = .running(reader, connection)
                if plain.readableBytes > 0 { connection.assumeIsolated { $0.ingest(plain) } }
            } catch {
                state = .running(reader, connection)
                connection.assumeIsolated { $0.shutdown(error, graceful: false) }
            }

        case .closed:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        switch state {
        case .upgrading, .running:
            context.read()
        case .upgraded, .closed:
            readPending = true  // resumed by attach(_:context:)
        }
    }

    /// Hands the upgraded connection's input to `connection`; called on the event loop once the host registered it.
    func attach(_ connection: Connection) {
        guard case .upgraded(var reader) = state, let context else {
            connection.assumeIsolated { $0.shutdown(Libp2pError(.closed, "the remote closed the connection"), graceful: false) }
            return
        }
        state = .closed
        do {
            let plain = try reader.decryptAvailable()
            state = .running(reader, connection)
            connection.assumeIsolated { $0.ingest(plain) }
        } catch {
            state = .running(reader, connection)
            connection.assumeIsolated { $0.shutdown(error, graceful: false) }
        }
        if readPending {
            readPending = false
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(Libp2pError(.closed, "the remote closed the connection"), context: context)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            finish(Libp2pError(.closed, "the remote closed the connection"), context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error, context: context)
    }

    /// Ends the connection with `error` and closes the socket.
    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        let reason = error as? Libp2pError ?? Libp2pError(.transport, "connection failed", cause: error)
        finish(reason, context: context)
        context.close(promise: nil)
    }

    private func finish(_ reason: Libp2pError, context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        switch state {
        case .upgrading:
            state = .closed
            upgraded.fail(reason)
        case .upgraded:
            // The host owns the connection now; it learns of the end through the close future.
            state = .closed
        case .running(let reader, let connection):
            if reader.raw.readableBytes > 0 && reason.code == .closed {
                connection.assumeIsolated {
                    $0.shutdown(Libp2pError(.protocolViolation, "connection ended inside a Noise frame"), graceful: false)
                }
            } else {
                connection.assumeIsolated { $0.shutdown(reason, graceful: false) }
            }
            state = .closed
        case .closed:
            break
        }
    }
}
