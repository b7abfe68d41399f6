import Foundation
import Libp2p
import MeshNode
import Testing

struct SignedMessageTests {
    struct Note: Codable, Sendable, Equatable { var text: String; var value: Int }

    @Test func roundTripsAndNamesTheSigner() throws {
        let key = PrivateKey.generate()
        let signed = try SignedMessage(signing: Note(text: "hello", value: 7), with: key)
        #expect(signed.signer == key.peerID.description)
        let decoded = try JSONDecoder().decode(SignedMessage<Note>.self, from: try CanonicalJSON.encode(signed))
        #expect(try decoded.verified() == Note(text: "hello", value: 7))
    }

    @Test func alteredPayloadIsRefused() throws {
        var signed = try SignedMessage(signing: Note(text: "pay 1", value: 1), with: PrivateKey.generate())
        signed.payload = try CanonicalJSON.encode(Note(text: "pay 1000", value: 1))
        #expect(throws: NodeError.self) { try signed.verified() }
    }

    @Test func signatureByAnotherPeerIsRefused() throws {
        var signed = try SignedMessage(signing: Note(text: "x", value: 1), with: PrivateKey.generate())
        signed.signer = PrivateKey.generate().peerID.description
        #expect(throws: NodeError.self) { try signed.verified() }
    }
}
