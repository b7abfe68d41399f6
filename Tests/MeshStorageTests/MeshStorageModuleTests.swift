import Testing
@testable import MeshStorage

struct MeshStorageModuleTests {
    @Test func moduleLinks() { #expect(String(describing: MeshStorageModule.self) == "MeshStorageModule") }
}
