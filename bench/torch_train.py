#!/usr/bin/env python3
"""The PyTorch peer of `meshfl-bench train`: the same model, data, batch size,
optimizer and thread count, one timed epoch; prints one JSON object.

    /usr/bin/python3 bench/torch_train.py --spec examples/mlp.json [--batch 64]
        [--threads 2] [--samples N] [--accuracy-epochs E --lr 0.05]

Data: Debian's Fashion-MNIST gz files, scaled to [0, 1] like meshfl's loader.
Batches are gathered by index from an in-memory tensor (no DataLoader workers),
which is the fastest way to feed torch on CPU and so the fairest comparison.
"""

import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
from meshfl_torch import build, load_spec  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"


def load(split):
    prefix = "train" if split == "train" else "t10k"
    with gzip.open(f"{DATA}/{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(f"{DATA}/{prefix}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    return torch.from_numpy(images.astype(np.float32) / 255.0), torch.from_numpy(labels.astype(np.int64))


def epoch(model, optimizer, x, y, batch, generator):
    loss_fn = torch.nn.CrossEntropyLoss()
    order = torch.randperm(len(y), generator=generator)
    model.train()
    for start in range(0, len(y), batch):
        index = order[start:start + batch]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[index]), y[index])
        loss.backward()
        optimizer.step()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--spec", required=True)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--samples", type=int)
    p.add_argument("--accuracy-epochs", type=int, default=0)
    p.add_argument("--lr", type=float, default=0.05)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    generator = torch.Generator().manual_seed(1)
    spec = load_spec(args.spec)
    x, y = load("train")
    if args.samples and args.samples < len(y):
        x, y = x[:args.samples], y[:args.samples]
    model, _ = build(spec)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    epoch(model, optimizer, x[:640], y[:640], args.batch, generator)  # warm-up
    start = time.perf_counter()
    epoch(model, optimizer, x, y, args.batch, generator)
    seconds = time.perf_counter() - start
    result = {"samples": len(y), "seconds": seconds, "samples_per_second": len(y) / seconds,
              "batch": args.batch, "threads": args.threads, "torch": torch.__version__}
    if args.accuracy_epochs > 0:
        torch.manual_seed(1)
        model, _ = build(spec)
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.accuracy_epochs)
        fx, fy = load("train")
        for _ in range(args.accuracy_epochs):
            epoch(model, optimizer, fx, fy, args.batch, generator)
            schedule.step()
        tx, ty = load("test")
        model.eval()
        with torch.no_grad():
            result["test_accuracy"] = float((model(tx).argmax(1) == ty).float().mean())
        result["accuracy_epochs"] = args.accuracy_epochs
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    start = time.perf_counter()
    for _ in range(10):
        a @ b
    result["sgemm_gflops"] = 10 * 2 * 1024 ** 3 / (time.perf_counter() - start) / 1e9
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
