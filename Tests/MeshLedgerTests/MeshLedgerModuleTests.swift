import Testing
@testable import MeshLedger

struct MeshLedgerModuleTests {
    @Test func moduleLinks() { #expect(String(describing: MeshLedgerModule.self) == "MeshLedgerModule") }
}
