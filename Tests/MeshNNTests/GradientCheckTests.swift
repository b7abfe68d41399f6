import MeshTensor
import Testing
@testable import MeshNN

/// Finite-difference checks of every layer's and loss's backward pass.
///
/// The scalar checked is `L = Σ y ⊙ R` for a fixed random `R`, so `∂L/∂y = R`;
/// each input and parameter element is nudged by ±h and the central
/// difference compared with the analytic gradient.
struct GradientCheckTests {
    static let h: Float = 1e-2

    /// A layer factory, the input shape, and a name for the test table.
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let inputShape: [Int]
        let make: @Sendable () -> any Layer
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "dense", inputShape: [3, 5]) {
            var g = SeededGenerator(seed: 1); return Dense(inputs: 5, outputs: 4, name: "0", generator: &g)
        },
        Case(name: "dense without bias", inputShape: [2, 6]) {
            var g = SeededGenerator(seed: 2); return Dense(inputs: 6, outputs: 3, bias: false, name: "0", generator: &g)
        },
        Case(name: "conv2d 3x3 pad 1", inputShape: [2, 2, 5, 5]) {
            var g = SeededGenerator(seed: 3)
            return Conv2D(inChannels: 2, outChannels: 3, kernel: 3, padding: 1, name: "0", generator: &g)
        },
        Case(name: "conv2d 3x3 stride 2", inputShape: [2, 2, 7, 6]) {
            var g = SeededGenerator(seed: 4)
            return Conv2D(inChannels: 2, outChannels: 2, kernel: 3, stride: 2, name: "0", generator: &g)
        },
        Case(name: "conv2d 5x5 pad 2", inputShape: [1, 1, 6, 6]) {
            var g = SeededGenerator(seed: 5)
            return Conv2D(inChannels: 1, outChannels: 2, kernel: 5, padding: 2, name: "0", generator: &g)
        },
        Case(name: "maxpool2d", inputShape: [2, 2, 4, 4]) { MaxPool2D(kernel: 2) },
        Case(name: "maxpool2d overlapping", inputShape: [1, 2, 5, 5]) { MaxPool2D(kernel: 3, stride: 2) },
        Case(name: "avgpool2d", inputShape: [2, 2, 4, 6]) { AvgPool2D(kernel: 2) },
        Case(name: "flatten", inputShape: [2, 3, 2, 2]) { Flatten() },
        Case(name: "relu", inputShape: [3, 7]) { Activation(.relu) },
        Case(name: "tanh", inputShape: [3, 7]) { Activation(.tanh) },
        Case(name: "sigmoid", inputShape: [3, 7]) { Activation(.sigmoid) },
        Case(name: "gelu", inputShape: [3, 7]) { Activation(.gelu) },
        Case(name: "layernorm", inputShape: [3, 6]) {
            let layer = LayerNorm(shape: [6], name: "0")
            var g = SeededGenerator(seed: 6)
            layer.weight.value = Tensor(shape: [6]) { _ in 0.5 + g.nextUniform() }
            layer.bias.value = Tensor(shape: [6]) { _ in g.nextNormal() }
            return layer
        },
        Case(name: "layernorm over a feature map", inputShape: [2, 2, 2, 3]) {
            LayerNorm(shape: [2, 2, 3], name: "0")
        },
    ]

    @Test("finite differences match backward", arguments: cases)
    func layerGradient(_ testCase: Case) throws {
        let layer = testCase.make()
        var g = SeededGenerator(seed: 99)
        // Inputs away from ReLU's kink and max-pool ties.
        let input = Tensor(shape: testCase.inputShape) { _ in
            let v = g.nextNormal()
            return v + (v >= 0 ? 0.05 : -0.05)
        }
        let output = layer.forward(input, training: true)
        let upstream = Tensor(shape: output.shape) { _ in g.nextNormal() }
        for parameter in layer.parameters { parameter.zeroGradient() }
        let inputGradient = layer.backward(upstream)
        let parameterGradients = layer.parameters.map(\.gradient)

        func objective(_ x: Tensor) -> Double {
            let y = layer.forward(x, training: false)
            var total = 0.0
            for (a, b) in zip(y.scalars, upstream.scalars) { total += Double(a) * Double(b) }
            return total
        }

        // Input gradient.
        for i in 0..<input.count {
            var plus = input, minus = input
            plus.scalars[i] += Self.h
            minus.scalars[i] -= Self.h
            let numeric = (objective(plus) - objective(minus)) / Double(2 * Self.h)
            let analytic = Double(inputGradient.scalars[i])
            #expect(abs(numeric - analytic) <= 2e-2 * max(1, abs(analytic)),
                    "\(testCase.name): d/dx[\(i)] numeric \(numeric) analytic \(analytic)")
        }
        // Parameter gradients.
        for (p, parameter) in layer.parameters.enumerated() {
            for i in 0..<parameter.value.count {
                let original = parameter.value.scalars[i]
                parameter.value.scalars[i] = original + Self.h
                let up = objective(input)
                parameter.value.scalars[i] = original - Self.h
                let down = objective(input)
                parameter.value.scalars[i] = original
                let numeric = (up - down) / Double(2 * Self.h)
                let analytic = Double(parameterGradients[p].scalars[i])
                #expect(abs(numeric - analytic) <= 2e-2 * max(1, abs(analytic)),
                        "\(testCase.name): d/d\(parameter.name)[\(i)] numeric \(numeric) analytic \(analytic)")
            }
        }
    }

    @Test("dropout backward applies the forward mask")
    func dropoutGradient() {
        let layer = Dropout(probability: 0.5, generator: SeededGenerator(seed: 3))
        let input = Tensor(repeating: 1, shape: [4, 50])
        let output = layer.forward(input, training: true)
        let gradient = layer.backward(Tensor(repeating: 1, shape: [4, 50]))
        #expect(output == gradient)
        let kept = output.scalars.filter { $0 != 0 }
        #expect(kept.allSatisfy { $0 == 2 })
        #expect(kept.count > 60 && kept.count < 140)
        #expect(layer.forward(input, training: false) == input)
    }

    @Test("loss gradients match finite differences", arguments: [LossSpec.crossEntropy, .mse])
    func lossGradient(_ kind: LossSpec) {
        var g = SeededGenerator(seed: 11)
        let logits = Tensor(shape: [4, 5]) { _ in g.nextNormal() * 2 }
        let labels: [Int32] = [0, 3, 4, 1]
        let (_, gradient) = Loss.compute(kind, logits, labels: labels)
        for i in 0..<logits.count {
            var plus = logits, minus = logits
            plus.scalars[i] += 1e-2
            minus.scalars[i] -= 1e-2
            let numeric = (Double(Loss.compute(kind, plus, labels: labels).loss)
                - Double(Loss.compute(kind, minus, labels: labels).loss)) / 2e-2
            #expect(abs(numeric - Double(gradient.scalars[i])) <= 2e-3,
                    "\(kind) d/dz[\(i)] numeric \(numeric) analytic \(gradient.scalars[i])")
        }
    }

    @Test("cross-entropy of known logits")
    func crossEntropyValue() {
        // log(e^0 + e^1 + e^2) - 2 for label 2; log(3) for uniform logits.
        let logits = Tensor(shape: [2, 3], scalars: [0, 1, 2, 5, 5, 5])
        let (loss, _) = Loss.softmaxCrossEntropy(logits, labels: [2, 0])
        let expected = ((log(1 + exp(1.0) + exp(2.0)) - 2) + log(3.0)) / 2
        #expect(abs(Double(loss) - expected) < 1e-6)
    }
}

#if canImport(Glibc)
import Glibc
#endif
