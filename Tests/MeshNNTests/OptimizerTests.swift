import MeshTensor
import Testing
@testable import MeshNN

/// Optimizer steps against values computed by hand from PyTorch's update rules.
struct OptimizerTests {
    func parameter(_ values: [Float], gradient: [Float]) -> Parameter {
        let p = Parameter(name: "w", value: Tensor(shape: [values.count], scalars: values))
        p.gradient = Tensor(shape: [gradient.count], scalars: gradient)
        return p
    }

    @Test func plainSGD() {
        let p = parameter([1, -2], gradient: [0.5, 0.25])
        Optimizer(.sgd(), learningRate: 0.1).step([p])
        #expect(p.value.scalars == [1 - 0.05, -2 - 0.025])
    }

    @Test func sgdWithWeightDecay() {
        let p = parameter([2], gradient: [1])
        Optimizer(.sgd(weightDecay: 0.5), learningRate: 0.1).step([p])
        // g = 1 + 0.5·2 = 2 → 2 - 0.2
        #expect(abs(p.value.scalars[0] - 1.8) < 1e-6)
    }

    @Test func sgdMomentumTwoSteps() {
        let p = parameter([1], gradient: [1])
        let optimizer = Optimizer(.sgd(momentum: 0.9), learningRate: 0.1)
        optimizer.step([p])  // buf = 1 → p = 0.9
        optimizer.step([p])  // buf = 0.9·1 + 1 = 1.9 → p = 0.9 - 0.19 = 0.71
        #expect(abs(p.value.scalars[0] - 0.71) < 1e-6)
    }

    @Test func sgdNesterovTwoSteps() {
        let p = parameter([1], gradient: [1])
        let optimizer = Optimizer(.sgd(momentum: 0.9, nesterov: true), learningRate: 0.1)
        optimizer.step([p])  // buf = 1, d = 1 + 0.9 = 1.9 → p = 0.81
        optimizer.step([p])  // buf = 1.9, d = 1 + 1.71 = 2.71 → p = 0.81 - 0.271 = 0.539
        #expect(abs(p.value.scalars[0] - 0.539) < 1e-6)
    }

    @Test func adamFirstStepMovesByLearningRate() {
        // With bias correction, Adam's first step is lr · g/|g| (up to eps).
        let p = parameter([1, 1], gradient: [3, -0.2])
        Optimizer(.adam(), learningRate: 0.01).step([p])
        #expect(abs(p.value.scalars[0] - 0.99) < 1e-6)
        #expect(abs(p.value.scalars[1] - 1.01) < 1e-6)
    }

    @Test func adamSecondStep() {
        let p = parameter([0], gradient: [1])
        let optimizer = Optimizer(.adam(beta1: 0.9, beta2: 0.999, epsilon: 0), learningRate: 0.1)
        optimizer.step([p])
        p.gradient = Tensor(shape: [1], scalars: [2])
        optimizer.step([p])
        // m = 0.9·0.1 + 0.1·2 = 0.29; v = 0.999·0.001 + 0.001·4 = 0.004999
        // m̂ = 0.29/0.19; v̂ = 0.004999/(1-0.998001)
        let mHat = 0.29 / 0.19, vHat = 0.004999 / (1 - 0.999 * 0.999)
        let expected = -0.1 - 0.1 * mHat / vHat.squareRoot()
        #expect(abs(Double(p.value.scalars[0]) - expected) < 1e-5)
    }

    @Test func adamWDecaysDecoupled() {
        let p = parameter([2], gradient: [0])
        Optimizer(.adamW(weightDecay: 0.1), learningRate: 0.5).step([p])
        // Zero gradient: only the decay acts: 2 · (1 - 0.05) = 1.9
        #expect(abs(p.value.scalars[0] - 1.9) < 1e-6)
    }

    @Test func adamL2DiffersFromAdamW() {
        let a = parameter([2], gradient: [0])
        Optimizer(.adam(weightDecay: 0.1), learningRate: 0.5).step([a])
        // L2: g = 0.2 → first step moves by lr: 1.5
        #expect(abs(a.value.scalars[0] - 1.5) < 1e-5)
    }
}

struct LearningRateScheduleTests {
    @Test func constant() {
        #expect(LearningRateSchedule.constant.rate(base: 0.1, epoch: 7) == 0.1)
    }

    @Test func step() {
        let schedule = LearningRateSchedule.step(stepSize: 2, gamma: 0.5)
        #expect([0, 1, 2, 3, 4].map { schedule.rate(base: 1, epoch: $0) } == [1, 1, 0.5, 0.5, 0.25])
    }

    @Test func cosine() {
        let schedule = LearningRateSchedule.cosine(period: 4, minimum: 0.1)
        #expect(abs(schedule.rate(base: 1, epoch: 0) - 1) < 1e-6)
        #expect(abs(schedule.rate(base: 1, epoch: 2) - 0.55) < 1e-6)
        #expect(abs(schedule.rate(base: 1, epoch: 4) - 0.1) < 1e-6)
        #expect(abs(schedule.rate(base: 1, epoch: 9) - 0.1) < 1e-6)
    }
}
