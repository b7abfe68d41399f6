#!/usr/bin/env python3
"""`make bench`: runs meshfl's benchmarks next to their peers in the same run
and writes bench/results.json — one object per benchmark, each meshfl figure
beside the peer figure it is compared with and the target from the issues.

    /usr/bin/python3 bench/run.py --bin .build/release [--quick] [--only SECTION,...]

Sections: `training` lives here; every other section is a module
bench/<section>.py with `run(context) -> list of result objects` (see
`Context`), so each part of meshfl adds its benchmarks without touching the
others'. `--only` runs some sections and keeps the other sections' entries of
an existing results.json. --quick skips the slow parts (the 5-epoch accuracy
runs; sections read `context.quick` too); --peer-accuracy adds PyTorch's own
5-epoch accuracy next to ours.
Benchmarks are measurements, never pass/fail tests; the script exits non-zero
only when a benchmark fails to run.
"""

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = os.path.join(ROOT, ".venv-interop", "bin", "python")  # Debian torch + PyPI safetensors


def run_json(command, label):
    print(f"bench: {label}: {' '.join(command)}", file=sys.stderr, flush=True)
    started = time.time()
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise SystemExit(f"bench: {label} failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"bench: {label}: {json.dumps(result)} ({time.time() - started:.0f} s)", file=sys.stderr, flush=True)
    return result


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def training(bin_dir, quick, peer_accuracy, repeats):
    """Throughput: `repeats` alternating one-epoch runs of meshfl and PyTorch
    (the median is reported, every sample kept); accuracy: one 5-epoch run."""
    results = []
    sgemm = run_json([f"{bin_dir}/meshfl-bench", "sgemm", "--threads", "2"], "sgemm")
    targets = {"mlp": 3.0, "cnn": 1.0}
    accuracy_targets = {"mlp": 0.88, "cnn": 0.90}
    for name in ("mlp", "cnn"):
        spec = f"examples/{name}.json"
        ours, theirs = [], []
        for attempt in range(repeats):
            ours.append(run_json([f"{bin_dir}/meshfl-bench", "train", "--model", spec, "--batch", "64",
                                  "--threads", "2"], f"meshfl {name} #{attempt + 1}"))
            theirs.append(run_json([PYTHON, "bench/torch_train.py", "--spec", spec, "--batch", "64",
                                    "--threads", "2"], f"pytorch {name} #{attempt + 1}"))
        our_rate = median([r["samples_per_second"] for r in ours])
        their_rate = median([r["samples_per_second"] for r in theirs])
        entry = {
            "name": f"train_{name}_epoch",
            "description": f"one epoch of the reference {name.upper()} on Fashion-MNIST train, batch 64, "
                           f"2 threads, SGD momentum; median of {repeats} alternating runs",
            "unit": "samples/s",
            "meshfl": round(our_rate, 1),
            "meshfl_runs": [round(r["samples_per_second"], 1) for r in ours],
            "peer": "pytorch " + theirs[0]["torch"],
            "peer_value": round(their_rate, 1),
            "peer_runs": [round(r["samples_per_second"], 1) for r in theirs],
            "ratio": round(our_rate / their_rate, 3),
            "target_ratio": targets[name],
            "ceiling_sgemm_gflops": round(sgemm["gflops"], 1),
            "peer_sgemm_gflops": round(median([r["sgemm_gflops"] for r in theirs]), 1),
        }
        if not quick:
            accuracy = run_json([f"{bin_dir}/meshfl-bench", "train", "--model", spec, "--batch", "64",
                                 "--threads", "2", "--samples", "640", "--accuracy-epochs", "5", "--lr", "0.05"],
                                f"meshfl {name} accuracy")
            entry["meshfl_test_accuracy_5_epochs"] = round(accuracy["test_accuracy"], 4)
            entry["target_accuracy"] = accuracy_targets[name]
            if peer_accuracy:
                peer = run_json([PYTHON, "bench/torch_train.py", "--spec", spec, "--batch", "64", "--threads", "2",
                                 "--samples", "640", "--accuracy-epochs", "5", "--lr", "0.05"],
                                f"pytorch {name} accuracy")
                entry["peer_test_accuracy_5_epochs"] = round(peer["test_accuracy"], 4)
        results.append(entry)
    results.append({"name": "sgemm", "unit": "GFLOP/s", "meshfl": round(sgemm["gflops"], 1),
                    "description": "1024x1024 sgemm through OpenBLAS, 2 threads: the ceiling for dense and conv layers"})
    return results


SECTIONS = ("training", "net", "storage", "ledger", "node")


class Context:
    """What a section gets: where the binaries are, the interop Python, the
    flags, and `run_json(command, label)` (runs a command whose last stdout
    line is one JSON object, and returns it)."""

    def __init__(self, args):
        self.bin_dir = args.bin
        self.quick = args.quick
        self.peer_accuracy = args.peer_accuracy
        self.repeats = args.repeats
        self.root = ROOT
        self.python = PYTHON
        self.run_json = run_json
        self.median = median


def section_runner(name):
    if name == "training":
        return lambda context: training(context.bin_dir, context.quick, context.peer_accuracy, context.repeats)
    path = os.path.join(ROOT, "bench", f"{name}.py")
    if not os.path.exists(path):
        return None
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--only", help=f"comma-separated sections to run (of {', '.join(SECTIONS)}); default all")
    p.add_argument("--bin", required=True, help="directory holding the release meshfl and meshfl-bench")
    p.add_argument("--quick", action="store_true", help="skip the 5-epoch accuracy runs")
    p.add_argument("--peer-accuracy", action="store_true", help="also train PyTorch for 5 epochs (slow)")
    p.add_argument("--repeats", type=int, default=3, help="alternating throughput runs per side (median reported)")
    args = p.parse_args()
    chosen = args.only.split(",") if args.only else list(SECTIONS)
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        raise SystemExit(f"bench: unknown section {', '.join(unknown)} (sections: {', '.join(SECTIONS)})")
    path = os.path.join(ROOT, "bench", "results.json")
    results = []
    if args.only and os.path.exists(path):
        with open(path) as f:
            results = [entry for entry in json.load(f).get("benchmarks", []) if entry.get("section") not in chosen]
    context = Context(args)
    failed = []
    for name in chosen:
        runner = section_runner(name)
        if runner is None:
            print(f"bench: section {name}: no bench/{name}.py yet", file=sys.stderr)
            continue
        # A section that fails is recorded as failed and the others still run; results are written after
        # every section, so an interrupted run keeps what it measured.
        try:
            entries = runner(context)
        except (Exception, SystemExit) as error:
            print(f"bench: section {name} FAILED: {error}", file=sys.stderr)
            failed.append(name)
            entries = [{"name": f"{name}_section_failed", "error": str(error)}]
        for entry in entries:
            entry["section"] = name
            results.append(entry)
        write(path, results)
    document = write(path, results)
    print(json.dumps(document, indent=2, sort_keys=True))
    if failed:
        raise SystemExit(f"bench: sections failed: {', '.join(failed)} (their errors are in bench/results.json)")


def write(path, results):
    document = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "load_average_at_end": os.getloadavg()[0]},
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "benchmarks": results,
    }
    with open(path + ".tmp", "w") as f:
        json.dump(document, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(path + ".tmp", path)
    return document


if __name__ == "__main__":
    main()
