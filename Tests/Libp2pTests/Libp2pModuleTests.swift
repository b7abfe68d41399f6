import Testing
@testable import Libp2p

struct Libp2pModuleTests {
    @Test func moduleLinks() { #expect(String(describing: Libp2pModule.self) == "Libp2pModule") }
}
