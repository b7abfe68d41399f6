import Libp2p
import Synchronization
import Testing

/// `withTimeout`, on which every request, ping and bounded wait relies.
@Suite struct DeadlineTests {
    @Test func aBodyThatFinishesInTimeReturnsItsValueAndItsErrors() async throws {
        let value = try await withTimeout(.seconds(5), "quick") { 42 }
        #expect(value == 42)
        await #expect { try await withTimeout(.seconds(5), "failing") { () async throws -> Int in
            throw Libp2pError(.reset, "the body's own error")
        } } throws: { ($0 as? Libp2pError)?.code == .reset }
    }

    /// `onTimeout` runs once the deadline passes and unblocks the body; the caller sees the timeout, not
    /// the error the unblocked body throws.
    @Test func theDeadlineRunsOnTimeoutAndWinsOverTheBodysError() async throws {
        let gate = AsyncStream<Void>.makeStream()
        let calls = Mutex(0)
        await #expect {
            try await withTimeout(.milliseconds(100), "a stuck read", onTimeout: {
                calls.withLock { $0 += 1 }
                gate.continuation.finish()
            }) {
                for await _ in gate.stream {}
                throw Libp2pError(.closed, "unblocked by the timeout")
            }
        } throws: { error in
            guard let error = error as? Libp2pError else { return false }
            return error.code == .timeout && error.description.contains("a stuck read")
        }
        #expect(calls.withLock { $0 } == 1)
    }

    /// A body that ignores cancellation but is unblocked by `onTimeout` lets the caller go on.
    @Test func aBodyIgnoringCancellationIsUnblockedByOnTimeout() async throws {
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let result = try? await withTimeout(.milliseconds(50), "waiting for a value", onTimeout: { continuation.finish() }) {
            var last = 0
            for await value in stream { last = value }
            return last
        }
        // The body returned normally after the stream ended, but the deadline had fired: it is a timeout.
        #expect(result == nil)
    }

    @Test func cancellingTheCallerCancelsTheBody() async throws {
        let sawCancellation = Mutex(false)
        let caller = Task {
            try await withTimeout(.seconds(30), "a long sleep") {
                do {
                    try await Task.sleep(for: .seconds(30))
                } catch is CancellationError {
                    sawCancellation.withLock { $0 = true }
                    throw CancellationError()
                }
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
        #expect(sawCancellation.withLock { $0 })
    }

    /// A timer that did not fire must not fire later: the deadline of a finished call is cancelled.
    @Test func aFinishedCallLeavesNoTimerBehind() async throws {
        // Only a call that finished before its deadline shows this. While the suites start in parallel
        // the machine can be too busy to run even `{ 1 }` within it (seen: 4 s), so such a call is
        // tried again, a bounded number of times.
        for _ in 0..<5 {
            let fired = Mutex(false)
            do {
                _ = try await withTimeout(.milliseconds(200), "quick", onTimeout: { fired.withLock { $0 = true } }) { 1 }
            } catch let error as Libp2pError where error.code == .timeout {
                try await Task.sleep(for: .milliseconds(500))
                continue
            }
            try await Task.sleep(for: .milliseconds(500))
            #expect(fired.withLock { $0 } == false)
            return
        }
        Issue.record("no call finished within its 200 ms deadline in 5 tries")
    }
}
