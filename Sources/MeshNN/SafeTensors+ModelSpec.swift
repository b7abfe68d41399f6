import MeshTensor

extension SafeTensors {
    /// Checks that these weights are exactly the parameters of `spec`: same names, same shapes.
    ///
    /// - Throws: ``FormatError`` `.shapeMismatch` naming `source`, the tensor and both
    ///   shapes, e.g. `w.safetensors: tensor "3.weight" has shape [10, 64] but the model spec needs [10, 128]`;
    ///   `.invalidSpec` if the spec itself is invalid.
    public func checkShapes(against spec: ModelSpec, source: String = "weights") throws {
        let expected = try spec.parameterShapes()
        for (name, shape) in expected {
            guard let tensor = tensors[name] else {
                throw FormatError(.shapeMismatch, "\(source): missing tensor \"\(name)\" of shape \(shape) that the model spec needs; "
                    + "were these weights saved for another spec?")
            }
            guard tensor.shape == shape else {
                throw FormatError(.shapeMismatch, "\(source): tensor \"\(name)\" has shape \(tensor.shape) "
                    + "but the model spec needs \(shape); were these weights saved for another spec?")
            }
        }
        let known = Set(expected.map(\.name))
        if let extra = names.first(where: { !known.contains($0) }) {
            throw FormatError(.shapeMismatch, "\(source): tensor \"\(extra)\" (shape \(tensors[extra]!.shape)) "
                + "is not a parameter of the model spec; expected exactly \(expected.map(\.name).joined(separator: ", "))")
        }
    }
}
