public import MeshTensor

extension Sequential {
    /// The generators of the dropout layers, in layer order: with the weights and
    /// the optimizer state, what a resumable training checkpoint must hold.
    public var dropoutGenerators: [SeededGenerator] {
        layers.compactMap { ($0 as? Dropout)?.generator }
    }

    /// Puts saved dropout generators back, in layer order.
    ///
    /// - Throws: ``FormatError`` `.shapeMismatch` when the count differs from
    ///   the model's dropout layers; nothing is changed then.
    public func restoreDropoutGenerators(_ generators: [SeededGenerator]) throws {
        let dropouts = layers.compactMap { $0 as? Dropout }
        guard dropouts.count == generators.count else {
            throw FormatError(.shapeMismatch, "checkpoint has \(generators.count) dropout generators, "
                + "the model has \(dropouts.count) dropout layers")
        }
        for (layer, generator) in zip(dropouts, generators) { layer.generator = generator }
    }
}
