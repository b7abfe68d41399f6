import Libp2p

extension GossipsubStateMachine {
    mutating func heartbeat(now: Duration) {
        heartbeats += 1
        score?.refresh(now: now)
        ihavesThisHeartbeat = [:]
        askedThisHeartbeat = [:]
        for (id, promise) in promises where promise.deadline <= now {
            score?.addPenalty(promise.peer)
            promises[id] = nil
        }

        for topic in mesh.keys.sorted() { maintainMesh(topic, now: now) }
        maintainFanout(now: now)
        for topic in Set(mesh.keys).union(fanout.keys).sorted() { emitGossip(topic, now: now) }

        for topic in Array(backoff.keys) {
            backoff[topic] = backoff[topic]!.filter { $0.value > now }
            if backoff[topic]!.isEmpty { backoff[topic] = nil }
        }
        messageCache.shift()
        seen.prune(now: now)
    }

    mutating func maintainMesh(_ topic: String, now: Duration) {
        var members = mesh[topic] ?? []
        for peer in members.sorted() where scoreOf(peer, now) < 0 {
            members.remove(peer)
            score?.prune(peer, topic: topic)
            sendPrune(to: peer, topic: topic, peerExchange: false, now: now)
        }
        let d = configuration.d
        if members.count < configuration.dLow {
            for peer in graftCandidates(topic, excluding: members, now: now).prefix(d - members.count) {
                members.insert(peer)
                graftPeer(peer, topic: topic, now: now)
            }
        }
        if members.count > configuration.dHigh {
            // Keep the D_score best by score, fill up to D at random, prune the rest with PX.
            // D_score never exceeds D: a configuration with D_score > D would otherwise keep a mesh above D_high.
            let dScore = min(configuration.dScore, d)
            let byScore = shuffled(members).sorted { scoreOf($0, now) > scoreOf($1, now) }
            var keep = Array(byScore.prefix(dScore))
            var rest = Array(byScore.dropFirst(dScore))
            rest.shuffle(using: &rng)
            keep += rest.prefix(max(0, d - keep.count))
            // Keep at least D_out outbound peers, swapping out inbound ones picked at random.
            let outboundKept = keep.filter { peers[$0]?.outbound == true }.count
            if outboundKept < configuration.dOut {
                let extra = rest.filter { peers[$0]?.outbound == true && !keep.contains($0) }
                for peer in extra.prefix(configuration.dOut - outboundKept) {
                    if let i = keep.lastIndex(where: { peers[$0]?.outbound != true }), i >= dScore {
                        keep.remove(at: i)
                    }
                    keep.append(peer)
                }
            }
            let kept = Set(keep)
            for peer in members.sorted() where !kept.contains(peer) {
                score?.prune(peer, topic: topic)
                sendPrune(to: peer, topic: topic, peerExchange: true, now: now)
            }
            members = kept
        }
        let outbound = members.filter { peers[$0]?.outbound == true }.count
        if members.count >= configuration.dLow, outbound < configuration.dOut {
            let candidates = graftCandidates(topic, excluding: members, now: now).filter { peers[$0]?.outbound == true }
            for peer in candidates.prefix(configuration.dOut - outbound) {
                members.insert(peer)
                graftPeer(peer, topic: topic, now: now)
            }
        }
        if heartbeats % 60 == 0, members.count > 1, let threshold = configuration.scoring?.opportunisticGraftThreshold {
            // Opportunistic grafting: a mesh of poor peers gets two better ones.
            let scores = members.map { scoreOf($0, now) }.sorted()
            let median = scores[scores.count / 2]
            if median < threshold {
                let better = graftCandidates(topic, excluding: members, now: now).filter { scoreOf($0, now) > median }
                for peer in better.prefix(2) {
                    members.insert(peer)
                    graftPeer(peer, topic: topic, now: now)
                }
            }
        }
        mesh[topic] = members
    }

    mutating func maintainFanout(now: Duration) {
        for topic in fanout.keys.sorted() {
            if let last = fanoutLastPublished[topic], now - last > configuration.fanoutTTL {
                fanout[topic] = nil
                fanoutLastPublished[topic] = nil
                continue
            }
            let threshold = configuration.scoring?.publishThreshold ?? -Double.infinity
            var members = (fanout[topic] ?? []).filter {
                topicPeers[topic]?.contains($0) == true && scoreOf($0, now) >= threshold
            }
            if members.count < configuration.d {
                let candidates = shuffled((topicPeers[topic] ?? []).filter {
                    !members.contains($0) && peers[$0]?.proto.isGossipsub == true && scoreOf($0, now) >= threshold
                })
                members.formUnion(candidates.prefix(configuration.d - members.count))
            }
            fanout[topic] = members
        }
    }

    mutating func emitGossip(_ topic: String, now: Duration) {
        var ids = messageCache.gossipIDs(topic: topic)
        guard !ids.isEmpty else { return }
        if ids.count > configuration.maxIHaveLength {
            ids.shuffle(using: &rng)
            ids = Array(ids.prefix(configuration.maxIHaveLength))
        }
        let exclude = (mesh[topic] ?? []).union(fanout[topic] ?? [])
        let threshold = configuration.scoring?.gossipThreshold ?? -Double.infinity
        let candidates = shuffled((topicPeers[topic] ?? []).filter {
            !exclude.contains($0) && peers[$0]?.proto.isGossipsub == true && scoreOf($0, now) >= threshold
        })
        let target = max(configuration.dLazy, Int(configuration.gossipFactor * Double(candidates.count)))
        for peer in candidates.prefix(target) {
            sendControl(peer) { $0.ihave.append(.init(topic: topic, messageIDs: ids)) }
        }
    }
}
