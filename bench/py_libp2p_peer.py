"""py-libp2p 0.8.1 peer for meshfl's network benchmarks (bench/net.py), over TCP + Noise + yamux.

sink:  listen on 127.0.0.1, serve /meshfl/bench/sink/1.0.0 and /meshfl/bench/echo/1.0.0,
       print "ADDR <full multiaddr>", serve until stdin closes (bounded by --lifetime).
send:  dial --target, send --mib MiB over one sink stream, print one JSON line with bytes/s and this
       process's CPU ns per byte.
dial:  dial --target --count times (a new connection each time) up to the first echoed byte on a
       negotiated stream; print one JSON line with the percentiles in ms.

The sink protocol: an 8-byte big-endian length, that many bytes, then the sink answers with the
8-byte count it received. The Swift side is Sources/meshfl-bench/BenchSupport.swift.
Every wait is bounded (trio.fail_after).
"""

import argparse
import json
import logging
import os
import sys
import time

import multiaddr
import trio

from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_ID, Transport as NoiseTransport

SINK = "/meshfl/bench/sink/1.0.0"
ECHO = "/meshfl/bench/echo/1.0.0"
LISTEN = multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")


def make_host():
    key_pair = create_new_key_pair()
    noise = NoiseTransport(key_pair, noise_privkey=create_x25519().private_key)
    return new_host(key_pair=key_pair, sec_opt={NOISE_ID: noise}, muxer_preference="YAMUX")


async def read_some(stream, n=65536):
    try:
        return await stream.read(n)
    except Exception:  # StreamEOF / StreamClosed mean end of stream
        return b""


async def read_exactly(stream, n):
    out = bytearray()
    while len(out) < n:
        chunk = await read_some(stream, n - len(out))
        if not chunk:
            raise EOFError(f"stream ended after {len(out)} of {n} bytes")
        out += chunk
    return bytes(out)


async def sink_handler(stream):
    try:
        expected = int.from_bytes(await read_exactly(stream, 8), "big")
        received = 0
        while received < expected:
            chunk = await read_some(stream, 1 << 20)
            if not chunk:
                break
            received += len(chunk)
        await stream.write(received.to_bytes(8, "big"))
    finally:
        await stream.close()


async def echo_handler(stream):
    try:
        while True:
            data = await read_some(stream)
            if not data:
                break
            await stream.write(data)
    finally:
        await stream.close()


def percentile(values, p):
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(-(-p * len(ordered) // 1)) - 1))
    return ordered[rank]


async def run_sink(args):
    host = make_host()
    host.set_stream_handler(SINK, sink_handler)
    host.set_stream_handler(ECHO, echo_handler)
    async with host.run(listen_addrs=[LISTEN]):
        addr = [a for a in host.get_addrs() if "/tcp/" in str(a)][0]
        full = str(addr) if "/p2p/" in str(addr) else f"{addr}/p2p/{host.get_id().pretty()}"
        print("ADDR " + full, flush=True)
        with trio.move_on_after(args.lifetime):
            await trio.to_thread.run_sync(sys.stdin.read, abandon_on_cancel=True)
    return 0


async def run_send(args):
    host = make_host()
    info = info_from_p2p_addr(multiaddr.Multiaddr(args.target))
    total = args.mib << 20
    chunk = os.urandom(args.chunk)
    rates = []
    cpu = []  # this process's CPU ns per byte sent, per run
    async with host.run(listen_addrs=[LISTEN]):
        with trio.fail_after(600):
            await host.connect(info)
            for _ in range(args.repeats):
                stream = await host.new_stream(info.peer_id, [SINK])
                started = time.perf_counter()
                cpu_started = time.process_time()
                await stream.write(total.to_bytes(8, "big"))
                left = total
                while left > 0:
                    n = min(left, len(chunk))
                    await stream.write(chunk if n == len(chunk) else chunk[:n])
                    left -= n
                acknowledged = int.from_bytes(await read_exactly(stream, 8), "big")
                elapsed = time.perf_counter() - started
                cpu.append((time.process_time() - cpu_started) * 1e9 / total)
                await stream.close()
                if acknowledged != total:
                    raise SystemExit(f"py_libp2p_peer: {args.target} acknowledged {acknowledged} of {total} bytes")
                rates.append(total / elapsed)
    print(json.dumps({"bytes": total, "chunk": args.chunk, "bytes_per_second": percentile(rates, 0.5), "runs": rates,
                      "cpu_ns_per_byte": percentile(cpu, 0.5)}), flush=True)
    return 0


async def run_dial(args):
    host = make_host()
    info = info_from_p2p_addr(multiaddr.Multiaddr(args.target))
    samples = []
    async with host.run(listen_addrs=[LISTEN]):
        for attempt in range(args.warmup + args.count):
            with trio.fail_after(10):
                started = time.perf_counter()
                await host.connect(info)
                stream = await host.new_stream(info.peer_id, [ECHO])
                await stream.write(b"*")
                await read_exactly(stream, 1)
                elapsed = time.perf_counter() - started
                await stream.close()
                await host.disconnect(info.peer_id)
                while host.get_network().connections.get(info.peer_id):
                    await trio.sleep(0.001)
            if attempt >= args.warmup:
                samples.append(elapsed * 1e3)
    print(json.dumps({"dials": args.count, "p50_ms": percentile(samples, 0.5), "p90_ms": percentile(samples, 0.9),
                      "mean_ms": sum(samples) / len(samples), "min_ms": min(samples)}), flush=True)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["sink", "send", "dial"])
    parser.add_argument("--target", help="full multiaddr of the sink/echo peer (send, dial)")
    parser.add_argument("--mib", type=int, default=16, help="MiB per send run")
    parser.add_argument("--chunk", type=int, default=65536, help="bytes per write")
    parser.add_argument("--repeats", type=int, default=1, help="send runs on one connection")
    parser.add_argument("--count", type=int, default=50, help="measured dials")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured dials first")
    parser.add_argument("--lifetime", type=float, default=600, help="seconds a sink serves at most")
    args = parser.parse_args()
    if args.mode in ("send", "dial") and not args.target:
        parser.error(f"{args.mode} needs --target /ip4/127.0.0.1/tcp/PORT/p2p/PEERID")
    logging.basicConfig(level=os.environ.get("PYPEER_LOG", "WARNING"), stream=sys.stderr)
    sys.exit(trio.run({"sink": run_sink, "send": run_send, "dial": run_dial}[args.mode], args))


if __name__ == "__main__":
    main()
