import Testing
@testable import MeshLedger

struct HAPIRetryPolicyTests {
    @Test(arguments: [HAPIResponseCode.ok, .success, .invalidSignature, .duplicateTransaction, .insufficientPayerBalance])
    func finalCodesAreDone(code: HAPIResponseCode) {
        var p = HAPIRetryPolicy()
        #expect(p.receive(code) == .done)
    }

    @Test func busyAndPlatformNotActiveBackOffExponentiallyThenFail() {
        var p = HAPIRetryPolicy(maxAttempts: 6, initialBackoff: .milliseconds(250), maxBackoff: .seconds(1))
        let actions = (0..<6).map { i in p.receive(i % 2 == 0 ? .busy : .platformNotActive) }
        #expect(Array(actions.prefix(5)) == [
            .retry(after: .milliseconds(250)), .retry(after: .milliseconds(500)), .retry(after: .seconds(1)),
            .retry(after: .seconds(1)), .retry(after: .seconds(1)),
        ])
        guard case .fail = actions[5] else { Issue.record("expected failure after 6 attempts, got \(actions[5])"); return }
        #expect(p.attempts == 6)
    }

    @Test func aSuccessAfterRetriesIsDone() {
        var p = HAPIRetryPolicy()
        #expect(p.receive(.busy) == .retry(after: .milliseconds(250)))
        #expect(p.receive(.ok) == .done)
    }
}
