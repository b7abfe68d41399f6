/// A HAPI transaction as sent to a node: `Transaction { signedTransactionBytes = 5 }`
/// holding `SignedTransaction { bodyBytes = 1, sigMap = 2 }`.
///
/// The body bytes are kept exactly as received, because the signatures cover
/// those bytes and a re-encoding might differ.
///
/// ```swift
/// var tx = SignedTransaction(body: body)
/// tx.sign(with: payerKey)
/// let wire = tx.transactionBytes()
/// let back = try SignedTransaction(transactionBytes: wire)
/// ```
public struct SignedTransaction: Hashable, Sendable {
    /// One entry of a `SignatureMap`.
    public struct SignaturePair: Hashable, Sendable {
        /// A prefix of the signing public key (meshfl writes the whole 32-byte key).
        public var pubKeyPrefix: [UInt8]
        /// The 64-byte Ed25519 signature of the body bytes.
        public var ed25519: [UInt8]
        /// Creates a pair.
        public init(pubKeyPrefix: [UInt8], ed25519: [UInt8]) {
            self.pubKeyPrefix = pubKeyPrefix
            self.ed25519 = ed25519
        }
    }

    /// The encoded `TransactionBody` that is signed.
    public var bodyBytes: [UInt8]
    /// The signature map.
    public var signatures: [SignaturePair]

    /// An unsigned transaction over `body`.
    public init(body: TransactionBody) {
        self.init(bodyBytes: body.encoded(), signatures: [])
    }

    /// A transaction from raw body bytes and signatures.
    public init(bodyBytes: [UInt8], signatures: [SignaturePair]) {
        self.bodyBytes = bodyBytes
        self.signatures = signatures
    }

    /// Adds `key`'s signature of the body bytes (replacing an earlier one by the same key).
    public mutating func sign(with key: Ed25519PrivateKey) {
        let pub = key.publicKey.rawRepresentation
        signatures.removeAll { $0.pubKeyPrefix == pub }
        signatures.append(SignaturePair(pubKeyPrefix: pub, ed25519: key.signature(for: bodyBytes)))
    }

    /// The decoded body.
    public func body() throws(LedgerError) -> TransactionBody {
        try TransactionBody(decoding: bodyBytes)
    }

    /// The `SignedTransaction` message bytes.
    public func signedTransactionBytes() -> [UInt8] {
        var w = ProtobufWriter()
        w.bytes(1, bodyBytes, always: true)
        w.message(2) { m in
            for p in signatures {
                m.message(1) { $0.bytes(1, p.pubKeyPrefix); $0.bytes(3, p.ed25519, always: true) }
            }
        }
        return w.bytes
    }

    /// The `Transaction` message bytes, the form nodes accept and the ledger logs.
    public func transactionBytes() -> [UInt8] {
        var w = ProtobufWriter()
        w.bytes(5, signedTransactionBytes(), always: true)
        return w.bytes
    }

    /// Decodes `Transaction` bytes: `signedTransactionBytes` (5), or the deprecated
    /// `bodyBytes` (4) with `sigMap` (3). Throws `malformed` otherwise.
    public init(transactionBytes: some Collection<UInt8>) throws(LedgerError) {
        var r = ProtobufReader(transactionBytes)
        var signed: ArraySlice<UInt8>?
        var legacyBody: [UInt8]?
        var legacySigs: [SignaturePair] = []
        while let f = try r.next() {
            switch f.number {
            case 5: signed = try f.slice()
            case 4: legacyBody = try f.bytes()
            case 3: legacySigs = try Self.decodeSigMap(try f.slice())
            default: break
            }
        }
        if let signed {
            try self.init(signedTransactionBytes: signed)
        } else if let legacyBody {
            self.init(bodyBytes: legacyBody, signatures: legacySigs)
        } else {
            throw LedgerError(.malformed, "the Transaction has no signedTransactionBytes (field 5); it is not a HAPI transaction.")
        }
    }

    /// Decodes `SignedTransaction` bytes.
    public init(signedTransactionBytes bytes: some Collection<UInt8>) throws(LedgerError) {
        var r = ProtobufReader(bytes)
        var body: [UInt8]?
        var sigs: [SignaturePair] = []
        while let f = try r.next() {
            switch f.number {
            case 1: body = try f.bytes()
            case 2: sigs = try Self.decodeSigMap(try f.slice())
            default: break
            }
        }
        guard let body else {
            throw LedgerError(.malformed, "the SignedTransaction has no bodyBytes (field 1).")
        }
        self.init(bodyBytes: body, signatures: sigs)
    }

    private static func decodeSigMap(_ s: ArraySlice<UInt8>) throws(LedgerError) -> [SignaturePair] {
        var r = ProtobufReader(s)
        var pairs: [SignaturePair] = []
        while let f = try r.next() {
            guard f.number == 1 else { continue }
            var p = ProtobufReader(try f.slice())
            var prefix: [UInt8] = [], sig: [UInt8]?
            while let g = try p.next() {
                switch g.number {
                case 1: prefix = try g.bytes()
                case 3: sig = try g.bytes()
                case 2, 4, 5, 6:
                    throw LedgerError(.invalidSignature, "a signature pair uses a non-Ed25519 scheme (field \(g.number)); this ledger accepts Ed25519 only.")
                default: break
                }
            }
            guard let sig else { throw LedgerError(.malformed, "a SignaturePair has no signature.") }
            pairs.append(SignaturePair(pubKeyPrefix: prefix, ed25519: sig))
        }
        return pairs
    }

    /// The public keys among `candidates` that signed the body.
    ///
    /// Each signature pair is matched to the candidate keys its prefix selects; a
    /// pair that matches a candidate but does not verify throws `invalidSignature`
    /// (as Hedera rejects a transaction with any bad signature for a needed key).
    /// Pairs for keys that are not candidates are ignored.
    public func verifiedSigners(among candidates: some Sequence<[UInt8]>) throws(LedgerError) -> Set<[UInt8]> {
        var signers = Set<[UInt8]>()
        let keys = Array(Set(candidates))
        for pair in signatures {
            for key in keys where key.starts(with: pair.pubKeyPrefix) && (!pair.pubKeyPrefix.isEmpty || keys.count == 1) {
                guard Ed25519PublicKey(trusted: key).isValidSignature(pair.ed25519, for: bodyBytes) else {
                    throw LedgerError(.invalidSignature, "the signature by key \(HexCoding.encode(key.prefix(8)))… does not verify over the body bytes; re-sign the exact body bytes with that key.")
                }
                signers.insert(key)
            }
        }
        return signers
    }
}
