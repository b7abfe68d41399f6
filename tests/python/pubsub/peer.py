"""py-libp2p 0.8.1 gossipsub + Kademlia peer for meshfl's Swift interop tests.

Used by Tests/GossipsubTests/PyGossipsubInteropTests.swift and
Tests/KademliaTests/PyKademliaInteropTests.swift. Listens on 127.0.0.1 (TCP, Noise, yamux),
runs gossipsub (heartbeat and degree set explicitly: py's defaults are a 120 s heartbeat and no
flood publish) and a Kademlia DHT server, prints "ADDR <full multiaddr>", then obeys one command
per stdin line and answers each with one line "OK <command> <json>" or "ERR <command> <text>":

    connect <multiaddr>               dial a peer (and add it to the DHT routing table)
    subscribe <topic>                 every message received prints "MSG <json>"
    publish <topic> <hex>             publish a signed message
    publish-forged <topic> <hex>      send every pubsub peer a message whose data was changed
                                      after signing (a StrictSign router must drop it)
    mesh <topic>                      the peers in our mesh of <topic>
    put <key> <hex>                   DHT PUT_VALUE (key is text, e.g. /meshfl/x)
    get <key>                         DHT GET_VALUE
    store-local <key> <hex>           keep a record in our own store only (so a GET must reach us)
    provide <hex key>                 DHT ADD_PROVIDER for the key bytes
    find-providers <hex key>          DHT GET_PROVIDERS
    find-peer <peer id>               DHT FIND_NODE lookup of a peer's addresses
    table                             the peers in the DHT routing table
    peer-record <peer id>             the addresses of the peer's signed record py accepted (identify)

The process ends when stdin closes or after --lifetime seconds. Every command is bounded by
trio.fail_after.
"""

import argparse
import base64
import hashlib
import json
import logging
import os
import sys

import multiaddr
import trio

from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519
from libp2p.kad_dht.kad_dht import DHTMode, KadDHT
from libp2p.peer.envelope import consume_envelope
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.pubsub.gossipsub import PROTOCOL_ID, PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.pubsub.validators import PUBSUB_SIGNING_PREFIX
from libp2p.records.validator import Validator
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_ID, Transport as NoiseTransport
from libp2p.tools.anyio_service import background_trio_service

LISTEN = multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")
COMMAND_TIMEOUT = 40


class AcceptAll(Validator):
    """The validator of the /meshfl/ namespace: any value; the first of several wins."""

    def validate(self, key, value):
        pass

    def select(self, key, values):
        return 0


def content_id(msg):
    """py-libp2p's content-addressed message id: base64(sha256(data))."""
    return base64.b64encode(hashlib.sha256(msg.data).digest())


def say(line):
    print(line, flush=True)


def message_json(msg, msg_id):
    return {
        "id": msg_id.hex(),
        "topic": list(msg.topicIDs)[0] if msg.topicIDs else "",
        "data": msg.data.hex(),
        "from": ID(msg.from_id).to_base58() if msg.from_id else "",
        "seqno": msg.seqno.hex(),
        "signed": bool(msg.signature),
    }


class Peer:
    def __init__(self, args, host, pubsub, router, dht):
        self.args, self.host, self.pubsub, self.router, self.dht = args, host, pubsub, router, dht
        self.nursery = None

    async def watch(self, topic, subscription):
        async for msg in subscription:
            say("MSG " + json.dumps(message_json(msg, self.pubsub._msg_id_constructor(msg))))

    async def run_command(self, words):
        name, rest = words[0], words[1:]
        if name == "connect":
            info = info_from_p2p_addr(multiaddr.Multiaddr(rest[0]))
            await self.host.connect(info)
            added = await self.dht.add_peer(info.peer_id)
            return {"peer": info.peer_id.to_base58(), "dht": bool(added)}
        if name == "subscribe":
            subscription = await self.pubsub.subscribe(rest[0])
            self.nursery.start_soon(self.watch, rest[0], subscription)
            return {}
        if name == "publish":
            await self.pubsub.publish(rest[0], bytes.fromhex(rest[1]))
            return {}
        if name == "publish-forged":
            msg = rpc_pb2.Message(
                data=bytes.fromhex(rest[1]), topicIDs=[rest[0]],
                from_id=self.host.get_id().to_bytes(), seqno=os.urandom(8),
            )
            msg.signature = self.host.get_private_key().sign(
                PUBSUB_SIGNING_PREFIX.encode() + msg.SerializeToString())
            msg.data = msg.data + b"!"  # changed after signing
            sent = 0
            for peer, stream in list(self.pubsub.peers.items()):
                if await self.pubsub.write_msg(stream, rpc_pb2.RPC(publish=[msg])):
                    sent += 1
            return {"sent": sent}
        if name == "mesh":
            return {"peers": sorted(p.to_base58() for p in self.router.mesh.get(rest[0], set()))}
        if name == "put":
            await self.dht.put_value(rest[0], bytes.fromhex(rest[1]))
            return {}
        if name == "store-local":
            self.dht.value_store.put(rest[0].encode(), bytes.fromhex(rest[1]))
            return {}
        if name == "get":
            value = await self.dht.get_value(rest[0])
            return {"value": value.hex() if value is not None else None}
        if name == "provide":
            return {"ok": bool(await self.dht.provide(rest[0]))}
        if name == "find-providers":
            found = await self.dht.find_providers(rest[0])
            return {"providers": sorted(p.peer_id.to_base58() for p in found)}
        if name == "find-peer":
            info = await self.dht.find_peer(ID.from_base58(rest[0]))
            return {"addrs": [str(a) for a in info.addrs] if info else []}
        if name == "peer-record":
            envelope = self.host.get_peerstore().get_peer_record(ID.from_base58(rest[0]))
            if envelope is None:
                return {"addrs": None}
            _, record = consume_envelope(envelope.marshal_envelope(), "libp2p-peer-record")
            return {"addrs": [str(a) for a in record.addrs], "peer": record.peer_id.to_base58()}
        if name == "table":
            return {"peers": sorted(p.to_base58() for p in self.dht.routing_table.get_peer_ids())}
        raise ValueError(f"unknown command {name!r}")

    async def commands(self):
        stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
        buffer = b""
        while True:
            chunk = await stdin.receive_some(4096)
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                words = line.decode().split()
                if not words:
                    continue
                try:
                    with trio.fail_after(COMMAND_TIMEOUT):
                        result = await self.run_command(words)
                    say(f"OK {words[0]} " + json.dumps(result))
                except Exception as error:  # reported to the test, which fails on it
                    say(f"ERR {words[0]} {type(error).__name__}: {error}")


async def main(args):
    key_pair = create_new_key_pair()
    noise = NoiseTransport(key_pair, noise_privkey=create_x25519().private_key)
    host = new_host(key_pair=key_pair, sec_opt={NOISE_ID: noise}, muxer_preference="YAMUX")
    router = GossipSub(
        protocols=[PROTOCOL_ID_V11, PROTOCOL_ID],
        degree=args.degree, degree_low=max(1, args.degree - 1), degree_high=args.degree * 2,
        heartbeat_interval=args.heartbeat, heartbeat_initial_delay=0.1,
    )
    msg_id = content_id if args.message_id == "content" else None
    extra = {"msg_id_constructor": msg_id} if msg_id else {}
    pubsub = Pubsub(host, router, strict_signing=True, **extra)
    dht = KadDHT(host, DHTMode.SERVER)
    dht.register_validator("meshfl", AcceptAll())
    async with host.run(listen_addrs=[LISTEN]):
        async with background_trio_service(pubsub), background_trio_service(router):
            async with background_trio_service(dht):
                await pubsub.wait_until_ready()
                addr = host.get_addrs()[0]
                say(f"ADDR {addr}")
                peer = Peer(args, host, pubsub, router, dht)
                with trio.move_on_after(args.lifetime):
                    async with trio.open_nursery() as nursery:
                        peer.nursery = nursery
                        await peer.commands()
                        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heartbeat", type=int, default=1, help="gossipsub heartbeat interval, seconds")
    parser.add_argument("--degree", type=int, default=3, help="gossipsub mesh degree D")
    parser.add_argument("--message-id", choices=["default", "content"], default="default",
                        help="message id: from+seqno (py's default) or base64(sha256(data))")
    parser.add_argument("--lifetime", type=float, default=120, help="exit after this many seconds")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, stream=sys.stderr)
    trio.run(main, args)
