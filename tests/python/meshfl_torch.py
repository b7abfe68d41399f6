#!/usr/bin/env python3
"""PyTorch reference for meshfl model specs, weights and predictions.

Run with the interop venv (it sees Debian's python3-torch and has PyPI `safetensors`):

    PY=.venv-interop/bin/python
    $PY tests/python/meshfl_torch.py init    --spec S.json --seed N --out W.safetensors
    $PY tests/python/meshfl_torch.py predict --spec S.json --weights W.safetensors \
            --inputs X.safetensors [--input-name inputs] --out P.safetensors
    $PY tests/python/meshfl_torch.py grad    --spec S.json --weights W.safetensors \
            --inputs X.safetensors --targets Y.safetensors --out G.safetensors
    $PY tests/python/meshfl_torch.py shapes  --spec S.json
    $PY tests/python/meshfl_torch.py dump    --in F.safetensors
    $PY tests/python/meshfl_torch.py resave  --in F.safetensors --out G.safetensors [--dtype float32|float16|bfloat16|float64]

Commands
  init     Builds the spec's nn.Sequential with torch's default initializers after
           torch.manual_seed(N) and saves its state_dict (float32).
  predict  Loads the weights (strict load_state_dict), runs the model in eval mode
           (dropout off) on the tensor `--input-name` (default: "inputs", or the
           file's only tensor), shape [n] + spec.input, and writes the outputs
           (logits for cross_entropy) as tensor "outputs".
  grad     Same forward in train mode with dropout disabled (p treated as 0), then
           the spec's loss — cross_entropy: mean nn.CrossEntropyLoss over integer
           class targets (stored as float32 in "targets"); mse: mean nn.MSELoss
           against "targets" of the output's shape — and writes "loss" (shape [])
           and the gradient of every parameter under the parameter's own name.
  shapes   Prints JSON {"parameters": [[name, shape], ...] in state_dict order,
           "outputs": [shape of each layer's output without the batch dimension]}.
  dump     Prints JSON {"metadata": {...} or null, "tensors": {name: {"dtype": ...,
           "shape": [...], "values": [flat row-major floats; "inf", "-inf", "nan" as strings]}}}
           of a safetensors file.
  resave   Loads a file with safetensors.torch.load_file and saves it again with
           safetensors.torch.save_file (metadata kept), optionally converting dtype.

Weights are read and written with the PyPI `safetensors` package (pinned in
scripts/setup), an implementation independent of meshfl's. Exit status 0 on
success, 2 with a one-line message on bad input.
"""

import argparse
import json
import math
import sys

import torch
from torch import nn
from safetensors import safe_open
from safetensors.torch import load_file, save_file


def fail(message):
    print(f"meshfl_torch: {message}", file=sys.stderr)
    sys.exit(2)


def load_spec(path):
    with open(path) as f:
        spec = json.load(f)
    if spec.get("format") != "meshfl.model/1":
        fail(f"{path}: format must be meshfl.model/1")
    return spec


def build(spec):
    """Returns (nn.Sequential, per-layer output shapes) for a meshfl.model/1 spec."""
    shape = list(spec["input"])
    layers, shapes = [], []
    for i, layer in enumerate(spec["layers"]):
        kind = layer["type"]
        if kind == "dense":
            module = nn.Linear(shape[0], layer["units"], bias=layer.get("bias", True))
        elif kind == "conv2d":
            module = nn.Conv2d(shape[0], layer["filters"], layer["kernel"], stride=layer.get("stride", 1),
                               padding=layer.get("padding", 0), bias=layer.get("bias", True))
        elif kind == "maxpool2d":
            module = nn.MaxPool2d(layer["kernel"], stride=layer.get("stride", layer["kernel"]))
        elif kind == "avgpool2d":
            module = nn.AvgPool2d(layer["kernel"], stride=layer.get("stride", layer["kernel"]))
        elif kind == "flatten":
            module = nn.Flatten()
        elif kind == "relu":
            module = nn.ReLU()
        elif kind == "tanh":
            module = nn.Tanh()
        elif kind == "sigmoid":
            module = nn.Sigmoid()
        elif kind == "gelu":
            module = nn.GELU()
        elif kind == "dropout":
            module = nn.Dropout(layer["p"])
        elif kind == "layernorm":
            module = nn.LayerNorm(list(shape), eps=layer.get("eps", 1e-5))
        else:
            fail(f"layers[{i}].type: unknown layer type {kind!r}")
        with torch.no_grad():
            shape = list(module(torch.zeros([1] + shape)).shape[1:])
        layers.append(module)
        shapes.append(shape)
    return nn.Sequential(*layers), shapes


def load_model(spec_path, weights_path):
    spec = load_spec(spec_path)
    model, _ = build(spec)
    model.load_state_dict(load_file(weights_path), strict=True)
    return spec, model


def pick(path, name):
    tensors = load_file(path)
    if name in tensors:
        return tensors[name]
    if len(tensors) == 1:
        return next(iter(tensors.values()))
    fail(f"{path}: no tensor {name!r} (has {sorted(tensors)})")


def cmd_init(args):
    torch.manual_seed(args.seed)
    model, _ = build(load_spec(args.spec))
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, args.out)


def cmd_predict(args):
    spec, model = load_model(args.spec, args.weights)
    model.eval()
    x = pick(args.inputs, args.input_name).float()
    with torch.no_grad():
        y = model(x.reshape([-1] + list(spec["input"])))
    save_file({"outputs": y.contiguous()}, args.out)


def cmd_grad(args):
    spec, model = load_model(args.spec, args.weights)
    model.train()
    for module in model:
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    x = pick(args.inputs, args.input_name).float().reshape([-1] + list(spec["input"]))
    targets = pick(args.targets, "targets")
    y = model(x)
    if spec.get("loss", "cross_entropy") == "cross_entropy":
        loss = nn.CrossEntropyLoss()(y, targets.long().reshape(-1))
    else:
        loss = nn.MSELoss()(y, targets.float().reshape(y.shape))
    loss.backward()
    out = {"loss": loss.detach().reshape([])}
    for name, parameter in model.named_parameters():
        out[name] = parameter.grad.detach().contiguous()
    save_file(out, args.out)


def cmd_shapes(args):
    model, shapes = build(load_spec(args.spec))
    parameters = [[name, list(t.shape)] for name, t in model.state_dict().items()]
    print(json.dumps({"parameters": parameters, "outputs": shapes}))


def cmd_dump(args):
    with safe_open(args.input, framework="pt") as f:
        metadata = f.metadata()
        tensors = {}
        for name in f.keys():
            t = f.get_tensor(name)
            tensors[name] = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                             "values": [v if math.isfinite(v) else str(v) for v in t.double().reshape(-1).tolist()]}
    print(json.dumps({"metadata": metadata, "tensors": tensors}))


def cmd_resave(args):
    with safe_open(args.input, framework="pt") as f:
        metadata = f.metadata()
    tensors = load_file(args.input)
    if args.dtype:
        dtype = getattr(torch, args.dtype)
        tensors = {k: v.to(dtype).contiguous() for k, v in tensors.items()}
    save_file(tensors, args.out, metadata=metadata)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init")
    p.add_argument("--spec", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_init)
    for name, func in (("predict", cmd_predict), ("grad", cmd_grad)):
        p = sub.add_parser(name)
        p.add_argument("--spec", required=True)
        p.add_argument("--weights", required=True)
        p.add_argument("--inputs", required=True)
        p.add_argument("--input-name", default="inputs")
        if name == "grad":
            p.add_argument("--targets", required=True)
        p.add_argument("--out", required=True)
        p.set_defaults(func=func)
    p = sub.add_parser("shapes")
    p.add_argument("--spec", required=True)
    p.set_defaults(func=cmd_shapes)
    p = sub.add_parser("dump")
    p.add_argument("--in", dest="input", required=True)
    p.set_defaults(func=cmd_dump)
    p = sub.add_parser("resave")
    p.add_argument("--in", dest="input", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--dtype", choices=["float32", "float16", "bfloat16", "float64"])
    p.set_defaults(func=cmd_resave)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    try:
        args.func(args)
    except (OSError, KeyError, RuntimeError, ValueError) as error:
        fail(f"{args.command}: {' '.join(str(error).split())}")


if __name__ == "__main__":
    main()
