"""py-libp2p 0.8.1 peer for meshfl's Swift interop tests (Tests/Libp2pTests/PyInteropTests.swift).

listen: serve echo on 127.0.0.1, print "ADDR <full multiaddr>", run until stdin closes.
dial:   connect to --target, run echo (8 streams at once, 0 B .. 16 MiB, SHA-256 checked),
        ping and identify against it; print "RESULT <json>"; exit 0 only if everything passed.
Every wait is bounded (trio.fail_after).
"""

import argparse
import hashlib
import json
import logging
import os
import random
import sys

import multiaddr
import trio

from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.serialization import deserialize_public_key
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519
from libp2p.host.ping import ID as PING_ID, perform_ping_roundtrip
from libp2p.identity.identify.identify import ID as IDENTIFY_ID, parse_identify_response
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_ID, Transport as NoiseTransport

ECHO = "/meshfl/test/echo/1.0.0"
# Reads the whole request before answering: py-libp2p's mplex streams are half-duplex in practice
# (a large concurrent echo stalls even py <-> py), so mplex interop uses this one.
ECHO_BUFFERED = "/meshfl/test/echo-buffered/1.0.0"
# py-libp2p's mplex close() ends both directions and its streams are half-duplex, so this echo
# sends an 8-byte big-endian length first; the server reads the whole request, then answers it.
ECHO_FRAMED = "/meshfl/test/echo-framed/1.0.0"
SIZES = [0, 1, 1 << 20, 16 << 20, 0, 1, 1 << 20, 300_000]


def make_host(muxer):
    key_pair = create_new_key_pair()
    noise = NoiseTransport(key_pair, noise_privkey=create_x25519().private_key)
    return new_host(key_pair=key_pair, sec_opt={NOISE_ID: noise}, muxer_preference=muxer.upper())


async def read_some(stream):
    try:
        return await stream.read(65536)
    except Exception:  # StreamEOF / StreamClosed mean end of stream
        return b""


async def echo_handler(stream):
    try:
        while True:
            data = await read_some(stream)
            if not data:
                break
            await stream.write(data)
    finally:
        await stream.close()


async def echo_buffered_handler(stream):
    try:
        data = bytearray()
        while len(data) <= (32 << 20):
            chunk = await read_some(stream)
            if not chunk:
                break
            data += chunk
        for offset in range(0, len(data), 60_000):
            await stream.write(bytes(data[offset : offset + 60_000]))
    finally:
        await stream.close()


async def read_exactly(stream, n):
    out = bytearray()
    while len(out) < n:
        chunk = await read_some(stream)
        if not chunk:
            raise EOFError(f"stream ended after {len(out)} of {n} bytes")
        out += chunk
    return bytes(out)


async def echo_framed_handler(stream):
    try:
        size = int.from_bytes(await read_exactly(stream, 8), "big")
        data = await read_exactly(stream, size) if size else b""
        for offset in range(0, len(data), 60_000):
            await stream.write(data[offset : offset + 60_000])
    finally:
        await stream.close()


async def echo_framed_once(host, peer_id, size, seed, results):
    # py-libp2p's mplex stream serialises read and write (a pending read blocks a write), so this
    # client writes the whole request first and only then reads the answer.
    data = payload(size, seed)
    stream = await host.new_stream(peer_id, [ECHO_FRAMED])
    await stream.write(size.to_bytes(8, "big"))
    for offset in range(0, len(data), 60_000):
        await stream.write(data[offset : offset + 60_000])
    digest = hashlib.sha256()
    received = 0
    while received < size:
        chunk = await read_some(stream)
        if not chunk:
            break
        digest.update(chunk)
        received += len(chunk)
    await stream.close()
    ok = received == size and digest.hexdigest() == hashlib.sha256(data).hexdigest()
    results.append({"size": size, "received": received, "ok": ok})


def payload(size, seed):
    return random.Random(seed).randbytes(size)


async def echo_once(host, peer_id, size, seed, results, protocol):
    data = payload(size, seed)
    stream = await host.new_stream(peer_id, [protocol])
    digest = hashlib.sha256()
    received = 0

    async def writer():
        for offset in range(0, len(data), 60_000):
            await stream.write(data[offset : offset + 60_000])
        await stream.close()  # half-close: we still read the echo

    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer)
        while True:
            chunk = await read_some(stream)
            if not chunk:
                break
            digest.update(chunk)
            received += len(chunk)
    ok = received == size and digest.hexdigest() == hashlib.sha256(data).hexdigest()
    results.append({"size": size, "received": received, "ok": ok})


async def read_all(stream, limit=1 << 16):
    out = b""
    while len(out) <= limit:
        chunk = await read_some(stream)
        if not chunk:
            break
        out += chunk
    return out


async def run_dial(args):
    host = make_host(args.muxer)
    target = multiaddr.Multiaddr(args.target)
    info = info_from_p2p_addr(target)
    result = {"peer": host.get_id().pretty()}
    async with host.run(listen_addrs=[multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        with trio.fail_after(120):
            await host.connect(info)
            protocol = ECHO_BUFFERED if args.buffered else ECHO
            once = echo_framed_once if args.muxer == "mplex" else (
                lambda h, p, size, seed, results: echo_once(h, p, size, seed, results, protocol))
            echoes = []
            sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else SIZES
            if args.sequential:
                for i, size in enumerate(sizes):
                    await once(host, info.peer_id, size, i, echoes)
            else:
                async with trio.open_nursery() as nursery:
                    for i, size in enumerate(sizes):
                        nursery.start_soon(once, host, info.peer_id, size, i, echoes)
            result["echo"] = sorted(echoes, key=lambda e: e["size"])

            stream = await host.new_stream(info.peer_id, [PING_ID])
            result["ping_ms"] = [await perform_ping_roundtrip(stream) for _ in range(3)]
            await stream.close()

            stream = await host.new_stream(info.peer_id, [IDENTIFY_ID])
            ident = parse_identify_response(await read_all(stream))
            key = deserialize_public_key(ident.public_key)
            result["identify"] = {
                "protocols": list(ident.protocols),
                "listen_addrs": [str(multiaddr.Multiaddr(a)) for a in ident.listen_addrs],
                "key_matches_peer": ID.from_pubkey(key) == info.peer_id,
                "agent": ident.agent_version,
            }
    ok = (
        len(result["echo"]) == len(sizes)
        and all(e["ok"] for e in result["echo"])
        and len(result["ping_ms"]) == 3
        and result["identify"]["key_matches_peer"]
        and ECHO in result["identify"]["protocols"]
    )
    result["ok"] = ok
    print("RESULT " + json.dumps(result), flush=True)
    return 0 if ok else 1


async def run_listen(args):
    host = make_host(args.muxer)
    host.set_stream_handler(ECHO, echo_handler)
    host.set_stream_handler(ECHO_BUFFERED, echo_buffered_handler)
    host.set_stream_handler(ECHO_FRAMED, echo_framed_handler)
    async with host.run(listen_addrs=[multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        addr = [a for a in host.get_addrs() if "/tcp/" in str(a)][0]
        full = str(addr) if "/p2p/" in str(addr) else f"{addr}/p2p/{host.get_id().pretty()}"
        print("ADDR " + full, flush=True)
        # Serve until the test closes our stdin (bounded by --lifetime in any case).
        with trio.move_on_after(args.lifetime):
            await trio.to_thread.run_sync(sys.stdin.read, abandon_on_cancel=True)
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["listen", "dial"])
    parser.add_argument("--muxer", choices=["yamux", "mplex"], default="yamux")
    parser.add_argument("--target")
    parser.add_argument("--buffered", action="store_true", help="use the store-and-forward echo")
    parser.add_argument("--sizes", help="comma-separated echo sizes (default: 0,1,1MiB,16MiB,0,1,1MiB,300000)")
    parser.add_argument("--sequential", action="store_true", help="one echo stream at a time")
    parser.add_argument("--lifetime", type=float, default=300)
    args = parser.parse_args()
    logging.basicConfig(level=os.environ.get("PYPEER_LOG", "WARNING"), stream=sys.stderr)
    sys.exit(trio.run(run_dial if args.mode == "dial" else run_listen, args))


if __name__ == "__main__":
    main()
