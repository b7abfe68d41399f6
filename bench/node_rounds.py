"""Round overhead of the federated job (issue 7): a requester and 8 trainers
as separate `meshfl node` processes on 127.0.0.1, a tiny model, and for each
round its wall time (first lease to aggregated) minus the slowest trainer's
own training time — what claiming, transfers, sealing, verification, payment,
the audit log and aggregation cost. Used by bench/node.py."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time

TINY = {"format": "meshfl.model/1", "input": [1, 28, 28], "layers": [{"type": "flatten"}, {"type": "dense", "units": 10}]}


def start_node(binary, arguments, log_path):
    log = open(log_path, "w")
    process = subprocess.Popen([binary, "node"] + arguments, stdout=subprocess.PIPE, stderr=log, text=True)
    deadline = time.time() + 60
    line = ""
    while time.time() < deadline and not line:
        line = process.stdout.readline().strip()
    if not line.startswith("/ip4/"):
        process.kill()
        raise SystemExit(f"bench: node did not start; see {log_path}")
    return process, line


def cpu_seconds(process):
    """User + system CPU time of a running child, from /proc (Linux)."""
    try:
        with open(f"/proc/{process.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def round_overhead(context, trainers=8, rounds=20, samples_per_shard=250):
    binary = f"{context.bin_dir}/meshfl"
    work = tempfile.mkdtemp(prefix="meshfl-rounds-")
    processes = []
    try:
        spec = os.path.join(work, "tiny.json")
        with open(spec, "w") as f:
            json.dump(TINY, f)
        ledger = "local:" + os.path.join(work, "dev.ledger")
        requester, address = start_node(binary, ["--role", "requester", "--data-dir", os.path.join(work, "req"),
                                                 "--ledger", ledger, "--cores", "1"], os.path.join(work, "requester.log"))
        processes.append(requester)
        for index in range(trainers):
            process, _ = start_node(binary, ["--role", "trainer", "--data-dir", os.path.join(work, f"t{index}"), "--ledger", ledger,
                                             "--bootstrap", address, "--cores", "1"], os.path.join(work, f"t{index}.log"))
            processes.append(process)
        # Every trainer is up before the job exists, so no round runs short of trainers or beside starting processes.
        job = subprocess.run([binary, "submit", "--data-dir", os.path.join(work, "req"), "--ledger", ledger, "--model", spec,
                              "--rounds", str(rounds), "--shards", str(trainers), "--samples", str(trainers * samples_per_shard),
                              "--reward", "10", "--verify-probability", "0", "--threads", "1"],
                             capture_output=True, text=True, check=True, timeout=300).stdout.strip()
        cpu_start = [cpu_seconds(p) or 0 for p in processes]
        # Poll the requester's node.sqlite read-only (WAL readers do not block it) rather than spawning
        # `meshfl status` processes, which would take CPU from the rounds being measured.
        deadline = time.time() + 600
        done = False
        state = sqlite3.connect(f"file:{os.path.join(work, 'req', 'node.sqlite')}?mode=ro", uri=True, timeout=5)
        try:
            while time.time() < deadline and not done:
                row = state.execute("SELECT status FROM jobs WHERE id = ?", (job,)).fetchone()
                done = row is not None and row[0] == "done"
                if not done:
                    time.sleep(0.5)
        finally:
            state.close()
        if not done:
            raise SystemExit(f"bench: round-overhead job did not finish; logs in {work}")
        status = json.loads(subprocess.run([binary, "status", job, "--data-dir", os.path.join(work, "req"), "--json"],
                                           capture_output=True, text=True, check=True, timeout=60).stdout)
        cpu = [(cpu_seconds(p) or 0) - start for p, start in zip(processes, cpu_start)]
        times = [r for r in status["roundTimes"] if r.get("overhead") is not None]
        # A trainer's first two results are always re-executed: rounds 1-2 carry that cost; report the steady state.
        steady = [r["overhead"] * 1000 for r in times if r["round"] > 2]
        return [{
            "name": "round_overhead",
            "description": f"{trainers} trainer processes + 1 requester on 127.0.0.1, tiny model (784->10) on "
                           f"{samples_per_shard} samples per shard, {rounds} rounds; round wall time (first lease to "
                           f"aggregated weights) minus the slowest trainer's training time; median of rounds 3-{rounds} "
                           f"(rounds 1-2 re-execute every trainer's first results)",
            "unit": "ms",
            "meshfl": round(context.median(steady), 1) if steady else None,
            "meshfl_runs": [round(v, 1) for v in steady],
            "all_rounds_ms": [round(r["overhead"] * 1000, 1) for r in times],
            "round_seconds": [round(r["seconds"], 3) for r in times],
            "slowest_training_seconds": [round(r["slowestTraining"], 3) for r in times],
            "target_max": 20.0,
            "cpu_ms_per_round_requester": round(cpu[0] * 1000 / rounds, 1),
            "cpu_ms_per_round_trainers_total": round(sum(cpu[1:]) * 1000 / rounds, 1),
        }]
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
        if not os.environ.get("MESHFL_BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"bench: kept {work}", flush=True)


if __name__ == "__main__":
    import argparse
    import statistics

    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    class Plain:
        bin_dir = args.bin
        median = staticmethod(statistics.median)

    print(json.dumps(round_overhead(Plain(), rounds=args.rounds), indent=2))
