public import Foundation

/// The loss a model spec trains with.
public enum LossSpec: String, Sendable, Hashable, Codable, CaseIterable {
    /// Softmax cross-entropy over class scores (`nn.CrossEntropyLoss`), the default.
    case crossEntropy = "cross_entropy"
    /// Mean squared error (`nn.MSELoss`).
    case mse
}

/// A declarative model: the per-sample input shape, a sequence of layers and a loss.
///
/// A spec is data, never code: trainers build the network from it. Its JSON form
/// (`format` `meshfl.model/1`) is what jobs carry:
///
/// ```swift
/// let spec = try ModelSpec(contentsOf: URL(fileURLWithPath: "examples/mlp.json"))
/// let shapes = try spec.validate()          // [[784], [256], [256], [128], [128], [10]]
/// for p in try spec.parameterShapes() { print(p.name, p.shape) }   // 1.weight [256, 784] ...
/// ```
///
/// Loading validates; a bad spec throws a ``FormatError`` whose message names the
/// file, the layer index and field, e.g.
/// `cnn.json: layers[3].kernel: 7 is larger than the input 5x5; use a kernel ≤ 5 or padding`.
public struct ModelSpec: Sendable, Hashable {
    /// The `format` string of the JSON form.
    public static let formatIdentifier = "meshfl.model/1"

    /// The shape of one sample, without the batch dimension (e.g. `[1, 28, 28]`).
    public var input: [Int]
    /// The layers, applied in order; layer `i` owns the parameters named `"i.weight"`, `"i.bias"`.
    public var layers: [LayerSpec]
    /// The training loss.
    public var loss: LossSpec

    /// Creates a spec; call ``validate()`` before using it.
    public init(input: [Int], layers: [LayerSpec], loss: LossSpec = .crossEntropy) {
        self.input = input
        self.layers = layers
        self.loss = loss
    }

    /// Parses and validates a spec from JSON bytes; `source` names them in errors.
    public init(json: Data, source: String = "model spec") throws {
        let decoded: ModelSpec
        do {
            decoded = try JSONDecoder().decode(ModelSpec.self, from: json)
        } catch let error as DecodingError {
            throw FormatError(.invalidSpec, "\(source): \(ModelSpec.describe(error))")
        }
        do {
            _ = try decoded.validate()
        } catch let error as FormatError {
            throw FormatError(error.code, "\(source): \(error.message)", cause: error.cause)
        }
        self = decoded
    }

    /// Reads, parses and validates a spec file.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw FormatError(.io, "\(url.path): cannot read the model spec; check the path", cause: error)
        }
        try self.init(json: data, source: url.path)
    }

    /// The canonical JSON form: sorted keys, default-valued fields omitted, no escaped slashes.
    ///
    /// The same spec always gives the same bytes.
    public func jsonData(pretty: Bool = true) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty
            ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            : [.sortedKeys, .withoutEscapingSlashes]
        // Encoding ints, bools, strings and finite floats cannot fail.
        var data = (try? encoder.encode(self)) ?? Data()
        if pretty { data.append(0x0A) }
        return data
    }

    /// Writes ``jsonData(pretty:)`` to `url` atomically.
    public func write(to url: URL) throws {
        do {
            try jsonData().write(to: url, options: .atomic)
        } catch {
            throw FormatError(.io, "\(url.path): cannot write the model spec; check the directory exists and is writable",
                              cause: error)
        }
    }

    /// Renders a decoding error as `path: problem`.
    static func describe(_ error: DecodingError) -> String {
        switch error {
        case let .keyNotFound(key, context):
            return "\(path(context.codingPath + [key])): missing; add it"
        case let .typeMismatch(type, context):
            return "\(path(context.codingPath)): expected \(typeDescription(type))"
        case let .valueNotFound(type, context):
            return "\(path(context.codingPath)): is null; expected \(typeDescription(type))"
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty {
                let detail = context.underlyingError.map { " (\($0.localizedDescription))" } ?? ""
                return "not valid JSON\(detail); check the file is a meshfl.model/1 JSON object"
            }
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue { text += "[\(index)]" } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text.isEmpty ? "spec" : text
    }

    static func typeDescription(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "an integer"
        case is Float.Type, is Double.Type: "a number"
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        default: "\(type)"
        }
    }
}

extension ModelSpec: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case format, input, layers, loss
    }

    /// Decodes the JSON form, rejecting unknown top-level fields and other formats.
    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: LayerSpec.Key.self)
        for key in keys.allKeys where CodingKeys(rawValue: key.stringValue) == nil {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: keys, debugDescription: "unknown field; a spec has format, input, layers and loss")
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let format = try container.decode(String.self, forKey: .format)
        guard format == ModelSpec.formatIdentifier else {
            throw DecodingError.dataCorruptedError(
                forKey: .format, in: container,
                debugDescription: "\"\(format)\" is not supported; this version reads \"\(ModelSpec.formatIdentifier)\"")
        }
        input = try container.decodeIntegers(forKey: .input)
        layers = try container.decode([LayerSpec].self, forKey: .layers)
        if let name = try container.decodeIfPresent(String.self, forKey: .loss) {
            guard let loss = LossSpec(rawValue: name) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .loss, in: container,
                    debugDescription: "\"\(name)\" is not a loss; use cross_entropy or mse")
            }
            self.loss = loss
        } else {
            loss = .crossEntropy
        }
    }

    /// Encodes the JSON form (always with `format` and `loss`).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ModelSpec.formatIdentifier, forKey: .format)
        try container.encode(input, forKey: .input)
        try container.encode(layers, forKey: .layers)
        try container.encode(loss.rawValue, forKey: .loss)
    }
}
