import Testing
@testable import MeshLedger

struct HCSRunningHashTests {
    @Test func issueVectorVersion3() {
        let h = HCSRunningHash.next(
            previous: HCSRunningHash.initial, payer: AccountID(num: 1001), topic: TopicID(num: 5005),
            consensusTime: ConsensusTimestamp(seconds: 1_700_000_000, nanos: 123_456_789),
            sequenceNumber: 1, message: Array("hello hcs".utf8))
        #expect(Fixture.hex(h) == "e303d9f322abc59880bc00554ae8bb497e402f5ec6b948cc05970477b8e2c0be98fada8beb7ba16bfe00d4e2ff9ea819")
    }

    @Test func everyInputChangesTheHash() {
        let t = ConsensusTimestamp(seconds: 1_700_000_000, nanos: 123_456_789)
        let base = HCSRunningHash.next(previous: HCSRunningHash.initial, payer: AccountID(num: 1001), topic: TopicID(num: 5005),
                                       consensusTime: t, sequenceNumber: 1, message: Array("hello hcs".utf8))
        let variants = [
            HCSRunningHash.next(previous: base, payer: AccountID(num: 1001), topic: TopicID(num: 5005), consensusTime: t, sequenceNumber: 1, message: Array("hello hcs".utf8)),
            HCSRunningHash.next(previous: HCSRunningHash.initial, payer: AccountID(num: 1002), topic: TopicID(num: 5005), consensusTime: t, sequenceNumber: 1, message: Array("hello hcs".utf8)),
            HCSRunningHash.next(previous: HCSRunningHash.initial, payer: AccountID(num: 1001), topic: TopicID(realm: 1, num: 5005), consensusTime: t, sequenceNumber: 1, message: Array("hello hcs".utf8)),
            HCSRunningHash.next(previous: HCSRunningHash.initial, payer: AccountID(num: 1001), topic: TopicID(num: 5005), consensusTime: t.adding(nanoseconds: 1), sequenceNumber: 1, message: Array("hello hcs".utf8)),
            HCSRunningHash.next(previous: HCSRunningHash.initial, payer: AccountID(num: 1001), topic: TopicID(num: 5005), consensusTime: t, sequenceNumber: 2, message: Array("hello hcs".utf8)),
            HCSRunningHash.next(previous: HCSRunningHash.initial, payer: AccountID(num: 1001), topic: TopicID(num: 5005), consensusTime: t, sequenceNumber: 1, message: Array("hello hcS".utf8)),
        ]
        #expect(Set(variants + [base]).count == 7)
        #expect(variants.allSatisfy { $0.count == 48 })
    }
}
