"""Storage benchmarks for `make bench` (section `storage`), each figure next to
the peer it is compared with, measured in the same run:

- swarm: 256 MiB (1 MiB blocks) from one `meshfl store seed` to 8
  `meshfl store fetch` processes on 127.0.0.1. Swarming (fetchers serve each
  other over /meshfl/blocks/1.0.0) vs the seeder serving all 8 alone
  (`--no-serve`). Every process's upload is capped at the same rate
  (`--upload-limit`), modelling per-peer uplinks: on loopback with 2 shared
  cores an uncapped run measures CPU (the same bytes are encrypted, hashed
  and written either way), not distribution. The uncapped pair is reported
  too. Target: swarm time <= 0.5x seeder alone.
- one peer: block exchange seeder -> one fetcher (uncapped) vs a raw TCP copy
  of the same bytes (Python sendfile -> recv -> file, fsync) on 127.0.0.1.
- S3BlobStore (`meshfl store s3 put|get`) vs boto3 with the same multipart
  settings, both against one LocalStack (host mode, SigV4 validation on).

Every process is started here and stopped by its pid; every wait is bounded.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

MIB = 1 << 20
SWARM_PEERS = 8
UPLOAD_CAP_MIBS = 25


def log(message):
    print(f"bench: storage: {message}", file=sys.stderr, flush=True)


def wait_for(what, seconds, condition, processes=()):
    deadline = time.time() + seconds
    while not condition():
        for p in processes:
            if p.poll() is not None:
                raise SystemExit(f"bench: storage: a process exited ({p.returncode}) while waiting for {what}: {' '.join(p.args)}")
        if time.time() > deadline:
            raise SystemExit(f"bench: storage: timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


def stop(processes):
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


def random_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 16 * MIB))
            f.write(chunk)
            left -= len(chunk)


class Storage:
    def __init__(self, context, work):
        self.context = context
        self.meshfl = os.path.join(context.bin_dir, "meshfl")
        if not os.access(self.meshfl, os.X_OK):
            raise SystemExit(f"bench: storage: no meshfl at {self.meshfl}; build it with `swift build -c release --product meshfl`")
        self.work = work

    def put(self, data_dir, path):
        out = subprocess.run([self.meshfl, "store", "put", path, "--data-dir", data_dir],
                             capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise SystemExit(f"bench: storage: store put failed: {out.stderr[-2000:]}")
        return out.stdout.strip()

    def seed(self, data_dir, root, name, cap=None):
        address_file = os.path.join(self.work, f"{name}.addr")
        if os.path.exists(address_file):
            os.unlink(address_file)
        command = [self.meshfl, "store", "seed", root, "--data-dir", data_dir, "--address-file", address_file]
        if cap:
            command += ["--upload-limit", str(cap)]
        p = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.work, f"{name}.log"), "w"))
        wait_for(f"{name} to listen", 30, lambda: os.path.exists(address_file), [p])
        with open(address_file) as f:
            return p, f.read().strip()

    def fetch_swarm(self, root, address, share, cap, label):
        """Starts SWARM_PEERS fetchers at once; returns (seconds until all hold the blob, reports)."""
        fetchers, reports = [], []
        for n in range(SWARM_PEERS):
            data = os.path.join(self.work, f"{label}-f{n}")
            report = os.path.join(self.work, f"{label}-f{n}.json")
            reports.append(report)
            command = [self.meshfl, "store", "fetch", root, "--from", address, "--data-dir", data,
                       "--report", report, "--linger", "900", "--timeout", "900"]
            if not share:
                command.append("--no-serve")
            if cap:
                command += ["--upload-limit", str(cap)]
            fetchers.append(subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                             stderr=open(os.path.join(self.work, f"{label}-f{n}.log"), "w")))
        started = time.time()
        try:
            wait_for(f"{label}: {SWARM_PEERS} fetchers", 900, lambda: all(os.path.exists(r) for r in reports), fetchers)
            elapsed = time.time() - started
        finally:
            stop(fetchers)
        loaded = []
        for r in reports:
            with open(r) as f:
                loaded.append(json.load(f))
        for n in range(SWARM_PEERS):
            shutil.rmtree(os.path.join(self.work, f"{label}-f{n}"), ignore_errors=True)
        return elapsed, loaded

    def swarm(self, size, cap):
        seeder_dir = os.path.join(self.work, "seeder")
        source = os.path.join(self.work, "swarm.bin")
        random_file(source, size)
        root = self.put(seeder_dir, source)
        os.unlink(source)
        results = {}
        for share in (False, True):
            mode = "swarm" if share else "alone"
            label = f"{mode}-{cap or 'uncapped'}"
            seeder, address = self.seed(seeder_dir, root, f"seeder-{label}", cap)
            seeder_id = address.rsplit("/", 1)[-1]
            try:
                elapsed, reports = self.fetch_swarm(root, address, share, cap, label)
            finally:
                stop([seeder])
            from_seeder = sum(r["blocksByPeer"].get(seeder_id, 0) for r in reports)
            blocks = reports[0]["blockCount"]
            log(f"{label}: {elapsed:.2f} s, seeder sent {from_seeder} of {blocks * SWARM_PEERS} blocks")
            assert all(r["alreadyHad"] + r["fetchedBlocks"] >= blocks and r["corruptBlocks"] == 0 for r in reports)
            results[mode] = (elapsed, from_seeder, blocks)
        shutil.rmtree(seeder_dir, ignore_errors=True)
        return results

    def one_peer(self, size, repeats):
        seeder_dir = os.path.join(self.work, "one-seeder")
        source = os.path.join(self.work, "one.bin")
        random_file(source, size)
        root = self.put(seeder_dir, source)
        ours, raw = [], []
        seeder, address = self.seed(seeder_dir, root, "one-seeder")
        try:
            for attempt in range(repeats):
                data = os.path.join(self.work, "one-fetcher")
                out = subprocess.run([self.meshfl, "store", "fetch", root, "--from", address, "--data-dir", data,
                                      "--no-serve", "--timeout", "600"], capture_output=True, text=True, timeout=900)
                if out.returncode != 0:
                    raise SystemExit(f"bench: storage: fetch failed: {out.stderr[-2000:]}")
                report = json.loads(out.stdout.strip().splitlines()[-1])
                shutil.rmtree(data, ignore_errors=True)
                ours.append(size / MIB / report["seconds"])
                raw.append(size / MIB / raw_tcp_copy(source, os.path.join(self.work, "raw-copy.bin")))
                log(f"one peer #{attempt + 1}: block exchange {ours[-1]:.0f} MiB/s, raw TCP {raw[-1]:.0f} MiB/s")
        finally:
            stop([seeder])
        shutil.rmtree(seeder_dir, ignore_errors=True)
        os.unlink(source)
        return ours, raw

    def s3(self, size, repeats):
        python = os.path.join(self.context.root, ".venv-localstack", "bin", "python")
        if not os.access(python, os.X_OK):
            raise SystemExit(f"bench: storage: LocalStack is not installed at {python}; run scripts/setup")
        port = free_port()
        data = os.path.join(self.work, "localstack")
        os.makedirs(data)
        server = subprocess.Popen([python, os.path.join(self.context.root, "tests/python/storage/localstack_server.py"), str(port), data],
                                  stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.work, "localstack.log"), "w"))
        endpoint = f"http://127.0.0.1:{port}"
        try:
            wait_for("LocalStack to be healthy", 120, lambda: localstack_healthy(port), [server])
            source = os.path.join(self.work, "s3.bin")
            random_file(source, size)
            env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
            common = ["--endpoint", endpoint, "--region", "us-east-1", "--bucket", "meshfl-bench"]
            rates = {"meshfl_put": [], "meshfl_get": [], "boto3_put": [], "boto3_get": []}
            for attempt in range(repeats):
                copy = os.path.join(self.work, "s3-copy.bin")
                put = run_last_json([self.meshfl, "store", "s3", "put", source, "--key", f"meshfl-{attempt}", "--create-bucket"] + common, env)
                get = run_last_json([self.meshfl, "store", "s3", "get", f"meshfl-{attempt}", "--out", copy] + common, env)
                peer = run_last_json([python, "-c", BOTO3_SCRIPT, endpoint, source, copy, f"boto3-{attempt}"], env)
                rates["meshfl_put"].append(size / MIB / put["seconds"])
                rates["meshfl_get"].append(size / MIB / get["seconds"])
                rates["boto3_put"].append(size / MIB / peer["put_seconds"])
                rates["boto3_get"].append(size / MIB / peer["get_seconds"])
                os.unlink(copy)
                log(f"s3 #{attempt + 1}: " + ", ".join(f"{k} {v[-1]:.0f} MiB/s" for k, v in rates.items()))
            return rates, peer["boto3"]
        finally:
            os.killpg(server.pid, signal.SIGTERM) if server.poll() is None else None
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)


BOTO3_SCRIPT = r"""
import json, sys, time, boto3, botocore
from boto3.s3.transfer import TransferConfig
endpoint, source, copy, key = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=botocore.config.Config(signature_version="s3v4", s3={"addressing_style": "path"}))
config = TransferConfig(multipart_threshold=16 << 20, multipart_chunksize=8 << 20, max_concurrency=4)
try:
    s3.create_bucket(Bucket="meshfl-bench")
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
t = time.time(); s3.upload_file(source, "meshfl-bench", key, Config=config); put = time.time() - t
t = time.time(); s3.download_file("meshfl-bench", key, copy, Config=config); get = time.time() - t
print(json.dumps({"put_seconds": put, "get_seconds": get, "boto3": boto3.__version__}))
"""

RAW_RECEIVER = r"""
import os, socket, sys, time
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(1)
print(server.getsockname()[1], flush=True)
conn, _ = server.accept()
started = time.time()
with open(sys.argv[1], "wb") as f:
    while True:
        data = conn.recv(1 << 20)
        if not data:
            break
        f.write(data)
    f.flush(); os.fsync(f.fileno())
print(time.time() - started, flush=True)
"""


def raw_tcp_copy(source, target):
    """Seconds for a raw TCP copy of `source` into `target` (receiver in its own process)."""
    receiver = subprocess.Popen([sys.executable, "-c", RAW_RECEIVER, target], stdout=subprocess.PIPE, text=True)
    try:
        port = int(receiver.stdout.readline())
        with socket.create_connection(("127.0.0.1", port), timeout=60) as conn, open(source, "rb") as f:
            conn.sendfile(f)
        seconds = float(receiver.stdout.readline())
        receiver.wait(timeout=60)
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait(timeout=10)
    os.unlink(target)
    return seconds


def run_last_json(command, env):
    out = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    if out.returncode != 0:
        raise SystemExit(f"bench: storage: {' '.join(command[:4])} failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def localstack_healthy(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET /_localstack/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            s.settimeout(5)
            reply = b""
            while True:
                data = s.recv(65536)
                if not data:
                    break
                reply += data
        return reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0] and b'"s3"' in reply
    except OSError:
        return False


def run(context):
    work = tempfile.mkdtemp(prefix="meshfl-bench-storage-")
    bench = Storage(context, work)
    median = context.median
    size = (64 if context.quick else 256) * MIB
    results = []
    try:
        caps = [UPLOAD_CAP_MIBS] if context.quick else [UPLOAD_CAP_MIBS, None]
        for cap in caps:
            r = bench.swarm(size, cap)
            (alone, alone_seeder, blocks), (swarm, swarm_seeder, _) = r["alone"], r["swarm"]
            results.append({
                "name": f"storage_swarm_{size // MIB}mib_{SWARM_PEERS}_peers" + ("" if cap else "_uncapped"),
                "description": f"{size // MIB} MiB ({blocks} blocks of 1 MiB) from one seeder to {SWARM_PEERS} fetchers, separate "
                               f"processes on 127.0.0.1, " + (f"every process's upload capped at {cap} MiB/s" if cap else
                               "no upload cap (CPU-bound: 2 shared cores)") + "; time until all hold the blob",
                "unit": "s",
                "meshfl": round(swarm, 2),
                "peer": "the same seeder serving all fetchers alone (fetch --no-serve)",
                "peer_value": round(alone, 2),
                "ratio": round(swarm / alone, 3),
                "target_ratio": 0.5 if cap else None,
                "seeder_blocks_sent_swarm": swarm_seeder,
                "seeder_blocks_sent_alone": alone_seeder,
            })
        ours, raw = bench.one_peer(size, context.repeats)
        results.append({
            "name": "storage_block_exchange_one_peer",
            "description": f"{size // MIB} MiB over /meshfl/blocks/1.0.0 (Noise + yamux, 1 MiB blocks, SHA-256 checked, "
                           f"fsynced to the block store) from one seeder to one fetcher vs a raw TCP copy (sendfile -> "
                           f"file, fsync) on 127.0.0.1; median of {context.repeats} alternating runs",
            "unit": "MiB/s",
            "meshfl": round(median(ours), 1),
            "meshfl_runs": [round(v, 1) for v in ours],
            "peer": "raw TCP copy (python sendfile)",
            "peer_value": round(median(raw), 1),
            "peer_runs": [round(v, 1) for v in raw],
            "ratio": round(median(ours) / median(raw), 3),
        })
        s3_size = (32 if context.quick else 128) * MIB
        rates, boto3_version = bench.s3(s3_size, context.repeats)
        for op in ("put", "get"):
            ours, theirs = rates[f"meshfl_{op}"], rates[f"boto3_{op}"]
            results.append({
                "name": f"storage_s3_{'upload' if op == 'put' else 'download'}",
                "description": f"S3BlobStore {op} of {s3_size // MIB} MiB against LocalStack on 127.0.0.1 (SigV4 validated, "
                               f"multipart from 16 MiB in 8 MiB parts, 4 at a time, own SHA-256); median of {context.repeats}",
                "unit": "MiB/s",
                "meshfl": round(median(ours), 1),
                "meshfl_runs": [round(v, 1) for v in ours],
                "peer": f"boto3 {boto3_version} (same multipart settings)",
                "peer_value": round(median(theirs), 1),
                "peer_runs": [round(v, 1) for v in theirs],
                "ratio": round(median(ours) / median(theirs), 3),
            })
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results
