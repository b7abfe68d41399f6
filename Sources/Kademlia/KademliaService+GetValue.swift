public import Libp2p

extension KademliaService {
    /// What a GET_VALUE lookup found.
    public struct ValueLookup: Sendable {
        /// The best value, as the key's namespace validator's `select` ranks them.
        public var value: [UInt8]
        /// Valid records counted towards the quorum (the local store counts as one).
        public var answers: Int
        /// Peers that answered with a worse value and were sent the best one (entry correction).
        public var corrected: [PeerID]
    }

    /// Gets the value of `key` with a quorum, as the libp2p Kademlia spec describes GET_VALUE.
    ///
    /// Valid records are collected from the local store and from the peers of an iterative lookup; the
    /// lookup stops as soon as `quorum` of them are in (`0`: run the lookup to its end). The best value
    /// is chosen by the namespace's validator, and peers that answered a worse one are sent the best
    /// record with PUT_VALUE.
    ///
    /// ```swift
    /// let found = try await dht.getValue(Array("/meshfl/model-7".utf8), quorum: 3)
    /// print(found.value, found.answers)
    /// ```
    ///
    /// - Throws: ``KadError/Code/invalidRecord`` if `key` has no namespace validator,
    ///   ``KadError/Code/notFound`` if no valid record exists, ``KadError/Code/quorumNotMet`` if fewer
    ///   than `quorum` valid records were found.
    @discardableResult
    public func getValue(_ key: [UInt8], quorum: Int) async throws(KadError) -> ValueLookup {
        guard let namespace = RecordStore.namespace(of: key), let validator = server.records.validators[namespace] else {
            throw KadError(.invalidRecord, "key '\(String(decoding: key, as: UTF8.self))' has no /<namespace>/ with a validator")
        }
        var answers: [(peer: PeerID?, value: [UInt8])] = []
        if let local = server.records.get(key, now: now) { answers.append((nil, local.value)) }
        if quorum == 0 || answers.count < quorum {
            let records = server.records
            _ = await lookup(key, KadMessage(type: .getValue, key: key)) { peer, reply in
                guard let record = reply.record, record.key == key, (try? records.validate(record)) != nil else { return false }
                answers.append((peer, record.value))
                return quorum > 0 && answers.count >= quorum
            }
        }
        guard !answers.isEmpty else {
            throw KadError(.notFound, "no peer holds a valid record for '\(String(decoding: key, as: UTF8.self))'")
        }
        let best = answers[validator.select(key: key, values: answers.map(\.value))].value
        var corrected: [PeerID] = []
        let record = KadMessage.Record(key: key, value: best)
        for case let (peer?, value) in answers where value != best {
            if (try? await request(peer, KadMessage(type: .putValue, key: key, record: record))) != nil { corrected.append(peer) }
        }
        guard answers.count >= quorum else {
            throw KadError(.quorumNotMet, "\(answers.count) of the \(quorum) records asked for were found; lower the quorum or retry when more peers are up")
        }
        return ValueLookup(value: best, answers: answers.count, corrected: corrected)
    }
}
