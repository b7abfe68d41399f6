import Libp2p

extension GossipsubStateMachine {
    mutating func handleRPC(_ rpc: PubsubRPC, from peer: PeerID, now: Duration) {
        guard peers[peer] != nil else { return }
        if let graylist = configuration.scoring?.graylistThreshold, scoreOf(peer, now) < graylist { return }
        for sub in rpc.subscriptions { handleSubscription(sub, from: peer) }
        for message in rpc.messages { handleMessage(message, from: peer, now: now) }
        guard let control = rpc.control, peers[peer]?.proto.isGossipsub == true else { return }
        handleIHave(control.ihave, from: peer, now: now)
        handleIWant(control.iwant, from: peer, now: now)
        handleGraft(control.graft, from: peer, now: now)
        handlePrune(control.prune, from: peer, now: now)
    }

    mutating func handleSubscription(_ sub: PubsubRPC.Subscription, from peer: PeerID) {
        if sub.subscribe {
            peers[peer]?.topics.insert(sub.topic)
            topicPeers[sub.topic, default: []].insert(peer)
        } else {
            peers[peer]?.topics.remove(sub.topic)
            topicPeers[sub.topic]?.remove(peer)
            if mesh[sub.topic]?.remove(peer) != nil { score?.prune(peer, topic: sub.topic) }
            fanout[sub.topic]?.remove(peer)
        }
    }

    mutating func handleMessage(_ message: PubsubMessage, from peer: PeerID, now: Duration) {
        guard subscriptions.contains(message.topic) else { return }
        let id = configuration.messageID(message)
        if seen.contains(id) {
            promises[id] = nil
            score?.duplicateMessage(from: peer, id: id, topic: message.topic, now: now)
            return
        }
        if configuration.strictSigning {
            do { try message.verifySignature() } catch {
                score?.rejectMessage(from: peer, id: nil, topic: message.topic, now: now)
                return
            }
        }
        if message.from == localPeer.bytes {
            // Our own id on a message we never sent: a forgery or a replay from an old run.
            score?.rejectMessage(from: peer, id: nil, topic: message.topic, now: now)
            return
        }
        seen.insert(id, now: now)
        promises[id] = nil
        if validatedTopics.contains(message.topic) {
            score?.validateMessage(from: peer, id: id, now: now)
            pendingValidation[id] = (message, peer)
            others.append(.validate(message, id: id, from: peer))
        } else {
            accept(message, id: id, from: peer, now: now)
        }
    }

    mutating func finishValidation(_ id: MessageID, _ result: ValidationResult, now: Duration) {
        guard let (message, peer) = pendingValidation.removeValue(forKey: id) else { return }
        switch result {
        case .accept: accept(message, id: id, from: peer, now: now)
        case .reject: score?.rejectMessage(from: peer, id: id, topic: message.topic, now: now)
        case .ignore: score?.ignoreMessage(id: id)
        }
    }

    mutating func accept(_ message: PubsubMessage, id: MessageID, from peer: PeerID, now: Duration) {
        score?.deliverMessage(from: peer, id: id, topic: message.topic, now: now)
        messageCache.put(message, id: id)
        others.append(.deliver(message, id: id, from: peer))
        var recipients = mesh[message.topic] ?? []
        for subscriber in topicPeers[message.topic] ?? [] where peers[subscriber]?.proto == .floodsub {
            recipients.insert(subscriber)
        }
        recipients.remove(peer)
        // Not back to the author: compare the binary ids rather than parsing `from` for every message.
        for target in recipients.sorted() where target.bytes != message.from { send(target) { $0.messages.append(message) } }
    }

    // MARK: Control

    mutating func handleIHave(_ entries: [ControlMessage.IHave], from peer: PeerID, now: Duration) {
        guard !entries.isEmpty else { return }
        if let threshold = configuration.scoring?.gossipThreshold, scoreOf(peer, now) < threshold { return }
        ihavesThisHeartbeat[peer, default: 0] += 1
        guard ihavesThisHeartbeat[peer]! <= configuration.maxIHaveMessages else { return }
        var wanted: [MessageID] = []
        var budget = configuration.maxIHaveLength - askedThisHeartbeat[peer, default: 0]
        for entry in entries where subscriptions.contains(entry.topic) {
            for id in entry.messageIDs where budget > 0 && !seen.contains(id) && promises[id] == nil
                && !wanted.contains(id)
            {
                wanted.append(id)
                budget -= 1
            }
        }
        guard !wanted.isEmpty else { return }
        askedThisHeartbeat[peer, default: 0] += wanted.count
        for id in wanted { promises[id] = (peer, now + configuration.iwantFollowupTime) }
        sendControl(peer) { $0.iwant.append(.init(messageIDs: wanted)) }
    }

    mutating func handleIWant(_ entries: [ControlMessage.IWant], from peer: PeerID, now: Duration) {
        guard !entries.isEmpty else { return }
        if let threshold = configuration.scoring?.gossipThreshold, scoreOf(peer, now) < threshold { return }
        var messages: [PubsubMessage] = []
        for id in entries.flatMap(\.messageIDs) {
            if let message = messageCache.getForPeer(id, limit: configuration.gossipRetransmission) {
                messages.append(message)
            }
        }
        guard !messages.isEmpty else { return }
        send(peer) { $0.messages += messages }
    }

    mutating func handleGraft(_ topics: [String], from peer: PeerID, now: Duration) {
        for topic in topics {
            guard subscriptions.contains(topic), mesh[topic]?.contains(peer) != true else { continue }
            if isBackedOff(peer, topic: topic, now: now) {
                // Grafting while backed off is a behaviour penalty (P7); answer with a fresh PRUNE.
                score?.addPenalty(peer)
                sendPrune(to: peer, topic: topic, peerExchange: false, now: now)
                continue
            }
            if scoreOf(peer, now) < 0 {
                sendPrune(to: peer, topic: topic, peerExchange: false, now: now)
                continue
            }
            if (mesh[topic]?.count ?? 0) >= configuration.dHigh, peers[peer]?.outbound != true {
                sendPrune(to: peer, topic: topic, peerExchange: true, now: now)
                continue
            }
            mesh[topic, default: []].insert(peer)
            score?.graft(peer, topic: topic, now: now)
        }
    }

    mutating func handlePrune(_ entries: [ControlMessage.Prune], from peer: PeerID, now: Duration) {
        for entry in entries {
            if mesh[entry.topic]?.remove(peer) != nil { score?.prune(peer, topic: entry.topic) }
            let seconds = entry.backoff.map { Duration.seconds(Int64(clamping: $0)) } ?? configuration.pruneBackoff
            let until = now + seconds
            if until > backoff[entry.topic]?[peer] ?? .zero { backoff[entry.topic, default: [:]][peer] = until }
            guard !entry.peers.isEmpty else { continue }
            if let threshold = configuration.scoring?.acceptPXThreshold, scoreOf(peer, now) < threshold { continue }
            let offered = entry.peers.filter { $0.peerID != localPeer.bytes }
            if !offered.isEmpty { others.append(.discovered(offered, topic: entry.topic)) }
        }
    }
}
