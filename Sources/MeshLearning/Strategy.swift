public import MeshTensor

/// One trainer's contribution to a round: its weights (by torch parameter
/// name) and how many samples it trained on.
public struct ClientUpdate: Sendable, Hashable {
    /// Who produced the update (a peer id, or any stable label).
    public var client: String
    /// Parameters by `state_dict` name, the same names and shapes for every client of a round.
    public var weights: [String: Tensor]
    /// Training samples behind the update: FedAvg's weight.
    public var sampleCount: Int

    public init(client: String, weights: [String: Tensor], sampleCount: Int) {
        self.client = client
        self.weights = weights
        self.sampleCount = sampleCount
    }
}

/// Why a round could not be aggregated.
public struct AggregationError: Error, Hashable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// How the global model of the next round is made from the current one and
/// the updates of this round. FedAvg is the first; robust and adaptive
/// strategies implement the same protocol.
public protocol Strategy: Sendable {
    /// A short name for logs and the job spec (`"fedavg"`).
    var name: String { get }

    /// The next global weights. `global` holds the round's starting weights;
    /// every update has the same parameter names and shapes as `global`.
    ///
    /// - Throws: ``AggregationError`` when there is nothing to aggregate or
    ///   an update does not match `global`.
    func aggregate(global: [String: Tensor], updates: [ClientUpdate]) throws -> [String: Tensor]
}

extension Strategy {
    /// Checks that every update carries exactly `global`'s names and shapes.
    public func checkShapes(global: [String: Tensor], updates: [ClientUpdate]) throws {
        guard !updates.isEmpty else { throw AggregationError("no updates to aggregate") }
        for update in updates {
            guard Set(update.weights.keys) == Set(global.keys) else {
                let missing = Set(global.keys).subtracting(update.weights.keys).sorted()
                let extra = Set(update.weights.keys).subtracting(global.keys).sorted()
                throw AggregationError("update from \(update.client): parameters differ from the model "
                    + "(missing \(missing), unexpected \(extra))")
            }
            for (name, tensor) in global where update.weights[name]!.shape != tensor.shape {
                throw AggregationError("update from \(update.client): \(name) has shape "
                    + "\(update.weights[name]!.shape), the model has \(tensor.shape)")
            }
        }
    }
}

/// Federated averaging (McMahan et al. 2017): the sample-weighted mean of the
/// clients' weights. Accumulates in Float64 in the order of `updates`, so the
/// result depends only on the updates and their order.
public struct FedAvg: Strategy {
    public var name: String { "fedavg" }

    public init() {}

    public func aggregate(global: [String: Tensor], updates: [ClientUpdate]) throws -> [String: Tensor] {
        try checkShapes(global: global, updates: updates)
        guard updates.allSatisfy({ $0.sampleCount > 0 }) else {
            let client = updates.first { $0.sampleCount <= 0 }!.client
            throw AggregationError("update from \(client) claims no training samples")
        }
        let total = Double(updates.reduce(0) { $0 + $1.sampleCount })
        var result: [String: Tensor] = [:]
        for (name, tensor) in global {
            var sum = [Double](repeating: 0, count: tensor.count)
            for update in updates {
                let share = Double(update.sampleCount) / total
                update.weights[name]!.withUnsafeBufferPointer { values in
                    for index in values.indices { sum[index] += share * Double(values[index]) }
                }
            }
            result[name] = Tensor(shape: tensor.shape, scalars: sum.map { Float($0) })
        }
        return result
    }
}
