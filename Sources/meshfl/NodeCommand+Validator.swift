import ArgumentParser
import Libp2p
import MeshNode

/// `meshfl node` options of delegated verification: a validator's limits.
///
///     meshfl node --role validator --data-dir v1 --ledger local:dev.ledger --cores 2 --max-reexecutions 1
struct ValidatorOptions: ParsableArguments {
    @Option(help: "Validators: re-executions run at once; further requests are answered busy.")
    var maxReexecutions: Int = 1

    @Option(help: "Validators: seconds one request may take (download, re-execution, answer).")
    var reexecutionTimeout: Double = 300

    func validate(role: String) throws {
        guard (1...64).contains(maxReexecutions) else { throw ValidationError("--max-reexecutions must be between 1 and 64, got \(maxReexecutions)") }
        guard reexecutionTimeout > 0, reexecutionTimeout <= 3_600 else { throw ValidationError("--reexecution-timeout must be within 0…3600 seconds") }
    }

    func apply(to options: inout NodeOptions) throws {
        options.validatorLimits.maxConcurrent = maxReexecutions
        options.validatorLimits.timeout = .milliseconds(Int(reexecutionTimeout * 1000))
    }
}
