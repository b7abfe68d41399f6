import Foundation
import Synchronization

/// A node's counters and gauges, rendered in the Prometheus text exposition
/// format (version 0.0.4) for `/metrics`.
///
/// Metric names are fixed (``Name``); label sets are free. Updates take a
/// lock, so any task may record; nothing here allocates on a hot path beyond
/// the label dictionary.
///
/// ```swift
/// let metrics = NodeMetrics(role: .trainer)
/// metrics.add(.tasksLeased, 1, ["job": id])
/// print(metrics.render())   // # HELP meshfl_tasks_leased_total …
/// ```
public final class NodeMetrics: Sendable {
    /// The metrics a node exports.
    public enum Name: String, Sendable, CaseIterable {
        case peersConnected = "meshfl_peers_connected"
        case tasksLeased = "meshfl_tasks_leased_total"
        case resultsAccepted = "meshfl_results_accepted_total"
        case resultsRejected = "meshfl_results_rejected_total"
        case trainersSlashed = "meshfl_trainers_slashed_total"
        case reexecutions = "meshfl_reexecutions_total"
        case paidTinybars = "meshfl_paid_tinybars_total"
        case roundsFinished = "meshfl_rounds_finished_total"
        case roundAccuracy = "meshfl_round_accuracy"
        case roundOverheadSeconds = "meshfl_round_overhead_seconds"
        case verifySeconds = "meshfl_verify_seconds_total"
        case trainingSeconds = "meshfl_training_seconds_total"
        case leasesExpired = "meshfl_leases_expired_total"

        var help: String {
            switch self {
            case .peersConnected: "Peers with an open libp2p connection."
            case .tasksLeased: "Task leases handed out (requester) or received (trainer)."
            case .resultsAccepted: "Results verified and accepted."
            case .resultsRejected: "Results refused without proof of fraud."
            case .trainersSlashed: "Results whose re-execution proved fraud (the trainer was slashed)."
            case .reexecutions: "Results checked by re-executing their task."
            case .paidTinybars: "Tinybars released from escrow (requester) or received (trainer)."
            case .roundsFinished: "Rounds aggregated."
            case .roundAccuracy: "Validation accuracy of the last aggregated round."
            case .roundOverheadSeconds: "Last round's wall time minus its slowest trainer's training time."
            case .verifySeconds: "Time spent verifying results."
            case .trainingSeconds: "Time spent training tasks."
            case .leasesExpired: "Leases that expired and were reassigned."
            }
        }

        var isCounter: Bool { rawValue.hasSuffix("_total") }
    }

    struct Key: Hashable, Comparable {
        var name: Name
        var labels: [String: String]

        var labelText: String {
            guard !labels.isEmpty else { return "" }
            let pairs = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\(NodeMetrics.escape($0.value))\"" }
            return "{" + pairs.joined(separator: ",") + "}"
        }

        static func < (a: Key, b: Key) -> Bool {
            (a.name.rawValue, a.labelText) < (b.name.rawValue, b.labelText)
        }
    }

    let role: NodeRole
    let values = Mutex<[Key: Double]>([:])

    /// Metrics of a node with this role (exported as `meshfl_node_info{role=…}`).
    public init(role: NodeRole) {
        self.role = role
    }

    /// Adds `amount` to a counter (or gauge).
    public func add(_ name: Name, _ amount: Double = 1, _ labels: [String: String] = [:]) {
        values.withLock { $0[Key(name: name, labels: labels), default: 0] += amount }
    }

    /// Sets a gauge.
    public func set(_ name: Name, _ value: Double, _ labels: [String: String] = [:]) {
        values.withLock { $0[Key(name: name, labels: labels)] = value }
    }

    /// The current value of one series (0 when never recorded).
    public func value(_ name: Name, _ labels: [String: String] = [:]) -> Double {
        values.withLock { $0[Key(name: name, labels: labels)] ?? 0 }
    }

    /// Every series in the Prometheus text format; counters never recorded are exported as 0.
    public func render() -> String {
        let snapshot = values.withLock { $0 }
        var out = "# HELP meshfl_node_info The node's role.\n# TYPE meshfl_node_info gauge\n"
        out += "meshfl_node_info{role=\"\(role.rawValue)\"} 1\n"
        for name in Name.allCases {
            out += "# HELP \(name.rawValue) \(name.help)\n# TYPE \(name.rawValue) \(name.isCounter ? "counter" : "gauge")\n"
            let series = snapshot.filter { $0.key.name == name }.sorted { $0.key < $1.key }
            if series.isEmpty, name.isCounter { out += "\(name.rawValue) 0\n" }
            for (key, value) in series { out += "\(name.rawValue)\(key.labelText) \(Self.format(value))\n" }
        }
        return out
    }

    /// Label values escape backslash, double quote and newline.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
