/// One layer of a declarative model spec, mirroring a `torch.nn` module.
///
/// The JSON form is an object with a `type` string and the layer's fields; fields
/// with defaults may be omitted. Unknown fields are rejected.
///
/// ```json
/// {"type":"conv2d","filters":32,"kernel":5,"padding":2}
/// ```
public enum LayerSpec: Sendable, Hashable {
    /// Fully connected layer (`nn.Linear(in, units, bias)`); needs a rank-1 input.
    case dense(units: Int, bias: Bool = true)
    /// 2-D convolution with square kernels (`nn.Conv2d`); input `[channels, height, width]`.
    case conv2d(filters: Int, kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true)
    /// Max pooling without padding, floor mode (`nn.MaxPool2d`); `stride` defaults to `kernel`.
    case maxpool2d(kernel: Int, stride: Int? = nil)
    /// Average pooling without padding, floor mode (`nn.AvgPool2d`); `stride` defaults to `kernel`.
    case avgpool2d(kernel: Int, stride: Int? = nil)
    /// Flattens the per-sample shape to rank 1 (`nn.Flatten()`).
    case flatten
    /// `max(0, x)` (`nn.ReLU`).
    case relu
    /// Hyperbolic tangent (`nn.Tanh`).
    case tanh
    /// Logistic sigmoid (`nn.Sigmoid`).
    case sigmoid
    /// GELU, exact erf form (`nn.GELU()` default).
    case gelu
    /// Inverted dropout with drop probability `p` in [0, 1) (`nn.Dropout(p)`).
    case dropout(p: Float)
    /// Layer normalization over the whole per-sample shape with elementwise affine
    /// parameters (`nn.LayerNorm(list(input_shape), eps)`).
    case layernorm(eps: Float = 1e-5)

    /// The JSON `type` string of this layer.
    public var typeName: String {
        switch self {
        case .dense: "dense"
        case .conv2d: "conv2d"
        case .maxpool2d: "maxpool2d"
        case .avgpool2d: "avgpool2d"
        case .flatten: "flatten"
        case .relu: "relu"
        case .tanh: "tanh"
        case .sigmoid: "sigmoid"
        case .gelu: "gelu"
        case .dropout: "dropout"
        case .layernorm: "layernorm"
        }
    }

    /// Every accepted `type` string.
    public static let typeNames = [
        "dense", "conv2d", "maxpool2d", "avgpool2d", "flatten",
        "relu", "tanh", "sigmoid", "gelu", "dropout", "layernorm",
    ]

    /// The fields (besides `type`) each layer type accepts, and which are required.
    static func fields(of type: String) -> (required: [String], optional: [String]) {
        switch type {
        case "dense": (["units"], ["bias"])
        case "conv2d": (["filters", "kernel"], ["stride", "padding", "bias"])
        case "maxpool2d", "avgpool2d": (["kernel"], ["stride"])
        case "dropout": (["p"], [])
        case "layernorm": ([], ["eps"])
        default: ([], [])
        }
    }
}

extension LayerSpec: Codable {
    struct Key: CodingKey, Hashable {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Decodes a layer, rejecting unknown types and unknown fields.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let type = try container.decode(String.self, forKey: Key("type"))
        guard LayerSpec.typeNames.contains(type) else {
            throw DecodingError.dataCorruptedError(
                forKey: Key("type"), in: container,
                debugDescription: "\"\(type)\" is not a layer type; use one of \(LayerSpec.typeNames.joined(separator: ", "))")
        }
        let (required, optional) = LayerSpec.fields(of: type)
        for key in container.allKeys where key.stringValue != "type" {
            guard required.contains(key.stringValue) || optional.contains(key.stringValue) else {
                let allowed = (required + optional)
                let hint = allowed.isEmpty ? "a \(type) layer takes no fields" : "a \(type) layer takes \(allowed.joined(separator: ", "))"
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: container, debugDescription: "unknown field; \(hint)")
            }
        }
        func int(_ name: String) throws -> Int { try container.decodeInteger(forKey: Key(name)) }
        func optionalInt(_ name: String) throws -> Int? { try container.decodeIntegerIfPresent(forKey: Key(name)) }
        func bool(_ name: String) throws -> Bool { try container.decodeIfPresent(Bool.self, forKey: Key(name)) ?? true }
        switch type {
        case "dense":
            self = .dense(units: try int("units"), bias: try bool("bias"))
        case "conv2d":
            self = .conv2d(filters: try int("filters"), kernel: try int("kernel"),
                           stride: try optionalInt("stride") ?? 1, padding: try optionalInt("padding") ?? 0,
                           bias: try bool("bias"))
        case "maxpool2d":
            self = .maxpool2d(kernel: try int("kernel"), stride: try optionalInt("stride"))
        case "avgpool2d":
            self = .avgpool2d(kernel: try int("kernel"), stride: try optionalInt("stride"))
        case "flatten": self = .flatten
        case "relu": self = .relu
        case "tanh": self = .tanh
        case "sigmoid": self = .sigmoid
        case "gelu": self = .gelu
        case "dropout":
            self = .dropout(p: try container.decode(Float.self, forKey: Key("p")))
        default:
            self = .layernorm(eps: try container.decodeIfPresent(Float.self, forKey: Key("eps")) ?? 1e-5)
        }
    }

    /// Encodes the layer, omitting fields that have their default values.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(typeName, forKey: Key("type"))
        switch self {
        case let .dense(units, bias):
            try container.encode(units, forKey: Key("units"))
            if !bias { try container.encode(false, forKey: Key("bias")) }
        case let .conv2d(filters, kernel, stride, padding, bias):
            try container.encode(filters, forKey: Key("filters"))
            try container.encode(kernel, forKey: Key("kernel"))
            if stride != 1 { try container.encode(stride, forKey: Key("stride")) }
            if padding != 0 { try container.encode(padding, forKey: Key("padding")) }
            if !bias { try container.encode(false, forKey: Key("bias")) }
        case let .maxpool2d(kernel, stride), let .avgpool2d(kernel, stride):
            try container.encode(kernel, forKey: Key("kernel"))
            if let stride { try container.encode(stride, forKey: Key("stride")) }
        case .flatten, .relu, .tanh, .sigmoid, .gelu:
            break
        case let .dropout(p):
            try container.encode(p, forKey: Key("p"))
        case let .layernorm(eps):
            if eps != 1e-5 { try container.encode(eps, forKey: Key("eps")) }
        }
    }
}
