import Foundation
import MeshTensor
import Synchronization
import Testing
@testable import MeshNode

/// The exit guard of ``Compute``: the gate that process exit closes before the libraries' destructors
/// run (closing the shared gate here would stop every later test's computations, so each test has its own).
struct ComputeTests {
    @Test func closingWaitsForRunningComputationsAndRefusesNewOnes() async throws {
        let gate = ComputeGate()
        #expect(gate.enter())
        let finished = Mutex(false)
        let worker = Thread {
            Thread.sleep(forTimeInterval: 0.3)
            finished.withLock { $0 = true }
            gate.leave()
        }
        worker.start()
        let started = ContinuousClock.now
        #expect(gate.close(waitingAtMost: .seconds(30)))
        #expect(finished.withLock { $0 }, "close returned only after the running computation left")
        #expect(ContinuousClock.now - started >= .milliseconds(250))
        #expect(gate.running == 0)
        #expect(!gate.enter(), "nothing starts once the gate is closed")
        #expect(gate.running == 0)
    }

    @Test func closingGivesUpAfterItsLimit() {
        let gate = ComputeGate()
        #expect(gate.enter())
        #expect(!gate.close(waitingAtMost: .milliseconds(20)), "a computation that never ends does not hold exit forever")
        gate.leave()
        #expect(gate.close(waitingAtMost: .milliseconds(20)))
    }

    @Test func computationsRunOnThePoolAndLeaveTheGate() async throws {
        let value = try await Compute.run { (1...1_000).reduce(0, +) }
        #expect(value == 500_500)
        #expect(Compute.gate.running == 0)
        await #expect(throws: Thrown.self) { try await Compute.run { throw Thrown() } }
        #expect(Compute.gate.running == 0, "a body that throws leaves the gate too")
    }
}

private struct Thrown: Error {}

/// Process exit under running computations, in a child process: this test binary again, running only
/// ``ComputeExitChild``. Without the exit guard the child faults in OpenBLAS on a pool thread (checked:
/// 4 of 4 runs, SIGSEGV in libopenblas, the crash CI had seen); with it, exit waits for them.
struct ComputeExitTests {
    static let childVariable = "MESHFL_COMPUTE_EXIT_CHILD"

    @Test func exitWaitsForComputationsStillRunning() async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("meshfl-compute-exit-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = ["--testing-library", "swift-testing", "--filter", "leaveComputationsRunningAndExit"]
        child.environment = ProcessInfo.processInfo.environment.merging([Self.childVariable: "1"]) { $1 }
        let output = try FileHandle(forWritingTo: log)
        child.standardOutput = output
        child.standardError = output
        try child.run()
        for _ in 0..<1_200 where child.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        if child.isRunning { kill(child.processIdentifier, SIGKILL) }  // our own child, by pid
        child.waitUntilExit()
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(text.contains("computations running at exit: 2"), "the child got its computations going\n\(text.suffix(2000))")
        #expect(child.terminationReason == .exit && child.terminationStatus == 0,
                "the child exited cleanly (reason \(child.terminationReason.rawValue), status \(child.terminationStatus))\n\(text.suffix(3000))")
    }
}

/// The child's side of ``ComputeExitTests``: runs only when that test starts it.
struct ComputeExitChild {
    @Test(.enabled(if: ProcessInfo.processInfo.environment[ComputeExitTests.childVariable] == "1"))
    func leaveComputationsRunningAndExit() async throws {
        let n = 512
        for _ in 0..<2 {
            Task.detached {
                _ = try? await Compute.run {
                    let a = [Float](repeating: 1, count: n * n)
                    var c = [Float](repeating: 0, count: n * n)
                    for _ in 0..<150 {
                        a.withUnsafeBufferPointer { ap in
                            c.withUnsafeMutableBufferPointer { cp in
                                BLAS.sgemm(transposeA: false, transposeB: false, m: n, n: n, k: n, alpha: 1, a: ap.baseAddress!, lda: n,
                                           b: ap.baseAddress!, ldb: n, beta: 0, c: cp.baseAddress!, ldc: n, parallel: false)
                            }
                        }
                    }
                    return c[0]
                }
            }
        }
        for _ in 0..<500 where Compute.gate.running < 2 { try await Task.sleep(for: .milliseconds(10)) }
        print("computations running at exit: \(Compute.gate.running)")
        // Returning ends the test run, and the process exits with both still in sgemm.
    }
}
