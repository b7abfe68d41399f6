"""Section "node" of `make bench` (see bench/run.py): the federated job.

Each benchmark is its own function returning result objects; `run` lists them.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node_rounds import round_overhead  # noqa: E402


def fedavg_vs_centralized(context):
    """FedAvg over 8 IID shards, R rounds of one local epoch, against
    centralized training of the same model on the same data for R epochs
    (issue 7: within 2 percentage points of test accuracy)."""
    # About 40 s; --quick runs it too (with fewer samples or rounds FedAvg's gap says little).
    command = [f"{context.bin_dir}/meshfl-bench", "fedavg", "--model", "examples/mlp.json", "--shards", "8",
               "--rounds", "5", "--batch", "64", "--lr", "0.05", "--threads", "2"]
    r = context.run_json(command, "fedavg vs centralized")
    return [{
        "name": "fedavg_iid_vs_centralized",
        "description": f"reference MLP on Fashion-MNIST ({r['samples']} train samples), FedAvg over {r['shards']} IID "
                       f"shards x {r['rounds']} rounds of 1 local epoch (each task a deterministic TrainingTask with "
                       f"transcript) vs centralized training for {r['rounds']} epochs; SGD momentum 0.9, lr "
                       f"{r['lr']}, batch {r['batch']}; test accuracy on the 10000 test images",
        "unit": "test accuracy",
        "meshfl": round(r["fedavg_test_accuracy"], 4),
        "meshfl_per_round": [round(a, 4) for a in r["fedavg_accuracy_per_round"]],
        "peer": "centralized training (meshfl engine, same model, data and epochs)",
        "peer_value": round(r["centralized_test_accuracy"], 4),
        "peer_per_epoch": [round(a, 4) for a in r["centralized_accuracy_per_epoch"]],
        "gap_percentage_points": round(r["gap_percentage_points"], 2),
        "target_gap_percentage_points": 2.0,
        "task_seconds_mean": round(r["task_seconds_mean"], 3),
        "verify_last_segment_seconds": round(r["verify_last_segment_seconds"], 4),
        "fedavg_aggregation_seconds_total": round(r["fedavg_aggregation_seconds"], 3),
    }]


def run(context):
    # 20 rounds: the median of rounds 3-20 is the steady state (6 rounds left 4 samples, with start-up in them).
    return fedavg_vs_centralized(context) + round_overhead(context, rounds=20)
