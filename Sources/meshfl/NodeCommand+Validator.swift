import ArgumentParser
import Libp2p
import MeshNode

/// `meshfl node` options of delegated verification: a requester's
/// `--validator`s, a validator's limits.
///
///     meshfl node --role validator --data-dir v1 --ledger local:dev.ledger --cores 2 --max-reexecutions 1
///     meshfl node --role requester --data-dir req --ledger local:dev.ledger --validator /ip4/127.0.0.1/tcp/…/p2p/…
struct ValidatorOptions: ParsableArguments {
    @Option(name: .customLong("validator"),
            help: "Requesters: a validator to hand re-execution to, /ip4/…/tcp/…/p2p/… (repeatable; asked in rotation, local re-execution when none answers).")
    var validators: [String] = []

    @Option(help: "Requesters: seconds a validator has to answer one re-execution before the requester re-executes locally.")
    var validatorTimeout: Double = 120

    @Option(help: "Validators: re-executions run at once; further requests are answered busy.")
    var maxReexecutions: Int = 1

    @Option(help: "Validators: seconds one request may take (download, re-execution, answer).")
    var reexecutionTimeout: Double = 300

    func validate(role: String) throws {
        if !validators.isEmpty && role != NodeRole.requester.rawValue {
            throw ValidationError("--validator is for --role requester (it names validators the requester hands re-execution to)")
        }
        for address in validators {
            let parsed: Multiaddr
            do { parsed = try Multiaddr(address) } catch { throw ValidationError("--validator \(address): \(error.message)") }
            guard case .p2p? = parsed.components.last else {
                throw ValidationError("--validator \(address): end it with /p2p/<peer id> (the first line `meshfl node --role validator` prints)")
            }
        }
        guard validatorTimeout > 0, validatorTimeout <= 3_600 else { throw ValidationError("--validator-timeout must be within 0…3600 seconds") }
        guard (1...64).contains(maxReexecutions) else { throw ValidationError("--max-reexecutions must be between 1 and 64, got \(maxReexecutions)") }
        guard reexecutionTimeout > 0, reexecutionTimeout <= 3_600 else { throw ValidationError("--reexecution-timeout must be within 0…3600 seconds") }
    }

    func apply(to options: inout NodeOptions) throws {
        options.validators = try validators.map { try Multiaddr($0) }
        options.validatorTimeout = .milliseconds(Int(validatorTimeout * 1000))
        options.validatorLimits.maxConcurrent = maxReexecutions
        options.validatorLimits.timeout = .milliseconds(Int(reexecutionTimeout * 1000))
    }
}
