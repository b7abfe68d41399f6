import Testing
@testable import MeshNN

struct MeshNNModuleTests {
    @Test func moduleLinks() { #expect(String(describing: MeshNNModule.self) == "MeshNNModule") }
}
