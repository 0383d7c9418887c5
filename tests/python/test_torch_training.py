#!/usr/bin/python3
"""A small training loop with F.cross_entropy replaced by softce.torch.cross_entropy.

Two identical models (same initial weights, data and optimizer) are trained side by side, one
with torch.nn.functional.cross_entropy and one with softce.torch.cross_entropy (and once more
with CrossEntropyLoss(inplace=True)); the losses must agree step by step to rounding. The step
times of both are printed for information only (speed is not asserted here; see bench/).

Exit status: 0 pass, 1 fail, 77 skipped (numpy or torch missing).
"""

import copy
import statistics
import sys
import time

try:
    import numpy as np  # noqa: F401  (the binding needs it)
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print(f"SKIPPED: {e}")
    sys.exit(77)

import softce.torch as st


def make_problem(n, features, classes, dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=gen, dtype=dtype)
    # learnable labels: the best class under a fixed random linear map
    y = (x @ torch.randn(features, classes, generator=gen, dtype=dtype)).argmax(1)
    model = torch.nn.Sequential(torch.nn.Linear(features, 64), torch.nn.ReLU(),
                                torch.nn.Linear(64, classes)).to(dtype)
    return x, y, model


def train(model, loss_fn, x, y, steps, batch):
    """SGD with momentum over mini-batches; returns (losses, step times in seconds)."""
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses, times = [], []
    for step in range(steps):
        lo = (step * batch) % x.shape[0]
        xb, yb = x[lo:lo + batch], y[lo:lo + batch]
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
        losses.append(loss.item())
    return losses, times


def compare(label, dtype, rtol, steps, n, features, classes, batch):
    x, y, model = make_problem(n, features, classes, dtype, seed=3)
    runs = {
        "torch F.cross_entropy": lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1),
        "softce.torch.cross_entropy": lambda a, b: st.cross_entropy(a, b, label_smoothing=0.1),
        "softce CrossEntropyLoss(inplace=True)": st.CrossEntropyLoss(label_smoothing=0.1,
                                                                     inplace=True),
    }
    results = {name: train(copy.deepcopy(model), fn, x, y, steps, batch)
               for name, fn in runs.items()}
    want = results["torch F.cross_entropy"][0]
    ok = True
    print(f"{label}: {steps} steps, batch {batch}, {classes} classes, {dtype}")
    for name, (losses, times) in results.items():
        worst = max(abs(a - b) / max(abs(b), 1e-30) for a, b in zip(losses, want))
        ms = 1e3 * statistics.median(times[2:])
        print(f"  {name:40s} first {losses[0]:.6f} last {losses[-1]:.6f} "
              f"max rel. diff {worst:.2e}  median step {ms:.3f} ms")
        if worst > rtol:
            print(f"  FAIL: {name} drifts from torch by {worst:.2e} > {rtol:.0e}")
            ok = False
    if want[-1] >= want[0]:
        print("  FAIL: the loss did not decrease: the loop does not train")
        ok = False
    return ok


def main():
    torch.set_num_threads(1)
    ok = compare("f64", torch.float64, 1e-12, steps=40, n=2048, features=32, classes=10,
                 batch=128)
    ok &= compare("f32", torch.float32, 1e-5, steps=40, n=2048, features=32, classes=10,
                  batch=128)
    ok &= compare("f32 wide", torch.float32, 1e-4, steps=12, n=512, features=16,
                  classes=2048, batch=256)
    print("training: PASS" if ok else "training: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
