import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// The `meshfl` command: train, evaluate and (later) run nodes of the network.
///
/// Bad input — a malformed spec, weights of the wrong shape, a missing file, a
/// bad flag — prints one line naming the file or field and what to do, and
/// exits with status 2 having written nothing.
@main
struct Meshfl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshfl",
        abstract: "Peer-to-peer federated learning.",
        discussion: """
            Start with `meshfl demo` (a requester and four trainers on this machine), or
            run nodes yourself: `meshfl node`, `meshfl submit`, `meshfl status`, `meshfl fetch`.
            Train a reference model alone:
              meshfl train --model examples/mlp.json --epochs 5 --out mlp.safetensors
              meshfl eval --model examples/mlp.json --weights mlp.safetensors
            """,
        subcommands: [TrainCommand.self, EvalCommand.self, DemoCommand.self, NodeCommand.self, SubmitCommand.self, JobsCommand.self,
                      StatusCommand.self, FetchCommand.self, LedgerCommand.self, StoreCommand.self, P2PCommand.self]
    )

    static func main() async {
        // Async code runs on the NIO event loops that own the sockets: a libp2p stream read, a lease handed out
        // or a block served continues on the thread that saw the bytes, with no wake-up of another thread between.
        // Long computations go to NIO's blocking pool (MeshNode's Compute), never onto these threads.
        // MESHFL_NIO_EXECUTOR=0 keeps Swift's own thread pool (to compare, or to rule this out when debugging).
        if ProcessInfo.processInfo.environment["MESHFL_NIO_EXECUTOR"] != "0" {
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as UsageError {
            CommandLineOutput.error(error.message)
            Glibc.exit(2)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            if let exitCode = error as? ExitCode {
                Glibc.exit(exitCode.rawValue)
            }
            // Argument-parser usage errors and every other error: one line, status 2.
            let message = message(for: error)
            CommandLineOutput.error(message.split(separator: "\n").first.map(String.init) ?? message)
            if error is ValidationError || code == .validationFailure {
                CommandLineOutput.error("see `meshfl help` or `--help` on the subcommand")
            }
            Glibc.exit(2)
        }
    }
}

/// An error in what the user asked for: printed as one line, exit status 2.
struct UsageError: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
