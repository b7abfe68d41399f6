#!/usr/bin/env python3
"""`make bench`: runs meshfl's benchmarks next to their peers in the same run
and writes bench/results.json — one object per benchmark, each meshfl figure
beside the peer figure it is compared with and the target from the issues.

    /usr/bin/python3 bench/run.py --bin .build/release [--quick] [--only NAME]

--quick skips the 5-epoch accuracy runs (minutes each on 2 cores);
--peer-accuracy adds PyTorch's own 5-epoch accuracy next to ours.
Benchmarks are measurements, never pass/fail tests; the script exits non-zero
only when a benchmark fails to run.
"""

import argparse
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


def training(bin_dir, quick, peer_accuracy):
    results = []
    sgemm = run_json([f"{bin_dir}/meshfl-bench", "sgemm", "--threads", "2"], "sgemm")
    targets = {"mlp": 3.0, "cnn": 1.0}
    accuracy_targets = {"mlp": 0.88, "cnn": 0.90}
    for name in ("mlp", "cnn"):
        spec = f"examples/{name}.json"
        extra = [] if quick else ["--accuracy-epochs", "5", "--lr", "0.05"]
        ours = run_json([f"{bin_dir}/meshfl-bench", "train", "--model", spec, "--batch", "64", "--threads", "2"]
                        + extra, f"meshfl {name}")
        theirs = run_json([PYTHON, "bench/torch_train.py", "--spec", spec, "--batch", "64", "--threads", "2"]
                          + (extra if peer_accuracy else []), f"pytorch {name}")
        entry = {
            "name": f"train_{name}_epoch",
            "description": f"one epoch of the reference {name.upper()} on Fashion-MNIST train, batch 64, 2 threads, SGD momentum",
            "unit": "samples/s",
            "meshfl": round(ours["samples_per_second"], 1),
            "peer": "pytorch " + theirs["torch"],
            "peer_value": round(theirs["samples_per_second"], 1),
            "ratio": round(ours["samples_per_second"] / theirs["samples_per_second"], 3),
            "target_ratio": targets[name],
            "ceiling_sgemm_gflops": round(sgemm["gflops"], 1),
            "peer_sgemm_gflops": round(theirs["sgemm_gflops"], 1),
        }
        if "test_accuracy" in ours:
            entry["meshfl_test_accuracy_5_epochs"] = round(ours["test_accuracy"], 4)
            entry["target_accuracy"] = accuracy_targets[name]
        if "test_accuracy" in theirs:
            entry["peer_test_accuracy_5_epochs"] = round(theirs["test_accuracy"], 4)
        results.append(entry)
    results.append({"name": "sgemm", "unit": "GFLOP/s", "meshfl": round(sgemm["gflops"], 1),
                    "description": "1024x1024 sgemm through OpenBLAS, 2 threads: the ceiling for dense and conv layers"})
    return results


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True, help="directory holding the release meshfl and meshfl-bench")
    p.add_argument("--quick", action="store_true", help="skip the 5-epoch accuracy runs")
    p.add_argument("--peer-accuracy", action="store_true", help="also train PyTorch for 5 epochs (slow)")
    args = p.parse_args()
    results = training(args.bin, args.quick, args.peer_accuracy)
    document = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "load_average_at_end": os.getloadavg()[0]},
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "benchmarks": results,
    }
    path = os.path.join(ROOT, "bench", "results.json")
    with open(path, "w") as f:
        json.dump(document, f, indent=2, sort_keys=True)
        f.write("\n")
    print(json.dumps(document, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
