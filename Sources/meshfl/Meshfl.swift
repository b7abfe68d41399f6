import ArgumentParser

/// The `meshfl` command: train, evaluate and (later) run nodes of the network.
@main
struct Meshfl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshfl",
        abstract: "Peer-to-peer federated learning.",
        subcommands: []
    )
}
