#!/usr/bin/python3
"""Differential test: softce (through the Python binding) against PyTorch 1.13.

Draws randomly (fixed seed) thousands of cases over dtypes, shapes, layouts, reductions,
weights, ignore_index, label smoothing, hard/soft targets and upstream gradients; checks the
loss, the input gradient (fused and separate backward), the soft-target gradient and
log_softmax against torch. Then the deliberate differences (q = 0 at a -inf logit) and bf16
(through the raw C entry points: numpy has no bfloat16). Exit: 0 pass, 1 fail, 77 skipped.
"""

import os
import sys
import time

try:
    import numpy as np
    import torch
except ImportError as e:
    print(f"SKIPPED: {e}")
    sys.exit(77)

import softce
from softce import _tensor
import parity_special
from parity_cases import F16, F32, draw_case
from parity_check import Checker, grad_arg, softce_kwargs
from parity_reference import magnitudes, torch_reference

SEED = 20240611
N_CASES = 4000


def run_case(chk, idx, case):
    text = f"#{idx} {case.describe()}"
    ref = torch_reference(case)
    mag = magnitudes(case)
    x, t = case.views["x"][0], case.views["target"][0]
    kw, g = softce_kwargs(case), grad_arg(case)
    dt, tdt = case.dtype, case.tdtype
    work = F32 if dt == F16 else dt

    loss = softce.cross_entropy(x, t, **kw)
    chk.expect("dtype", loss.dtype == dt and loss.shape == ref["loss"].shape, text,
               f"loss {loss.dtype}{loss.shape}")
    chk.compare("cross_entropy", loss, ref["loss"], mag["loss"], (work, dt), text)
    loss2, gx = softce.cross_entropy_forward_backward(x, t, **kw, grad_out=g)
    chk.expect("dtype", gx.dtype == dt and gx.shape == x.shape, text, f"grad {gx.dtype}")
    chk.compare("forward_backward.loss", loss2, ref["loss"], mag["loss"], (work, dt), text)
    chk.compare("forward_backward.grad", gx, ref["grad_input"], mag["grad_input"],
                (work, dt), text)
    res = softce.cross_entropy_backward(x, t, g, **kw, target_grad=case.soft)
    gx3, gt = res if case.soft else (res, None)
    chk.compare("backward.grad_input", gx3, ref["grad_input"], mag["grad_input"],
                (work, dt), text)
    if case.soft:
        chk.expect("dtype", gt.dtype == tdt, text, f"grad_target {gt.dtype}")
        chk.compare("backward.grad_target", gt, ref["grad_target"], mag["grad_target"],
                    (work, tdt), text)
    chk.compare("log_softmax", softce.log_softmax(x, num_threads=case.num_threads),
                ref["log_softmax"], mag["log_softmax"], (work, dt), text)
    if case.in_place and x.flags.writeable and _tensor.viewable(x):
        loss4, gx4 = softce.cross_entropy_forward_backward(x, t, **kw, grad_out=g, out=x)
        chk.expect("in_place", gx4 is x, text, "out= was not returned")
        chk.compare("in_place.loss", loss4, ref["loss"], mag["loss"], (work, dt), text)
        chk.compare("in_place.grad", x, ref["grad_input"], mag["grad_input"], (work, dt), text)


def main():
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    chk = Checker()
    start = time.time()
    stats = {"soft": 0, "hard": 0, "in_place": 0}
    for idx in range(N_CASES):
        case = draw_case(rng)
        stats["soft" if case.soft else "hard"] += 1
        stats["in_place"] += case.in_place
        try:
            run_case(chk, idx, case)
        except Exception as e:  # an unexpected SoftceError is a failure, not a crash
            chk.fail("exception", f"#{idx} {case.describe()}", repr(e))
    n_special = parity_special.run(chk, rng)
    print(f"parity: {N_CASES} random cases ({stats['hard']} hard, {stats['soft']} soft, "
          f"{stats['in_place']} in-place requests) + {n_special} special cases, "
          f"{chk.checks} checks, {len(chk.failures)} failures, {time.time() - start:.1f} s, "
          f"SOFTCE_FORCE_ISA={os.environ.get('SOFTCE_FORCE_ISA', '(unset)')}")
    for key, (ratio, where) in sorted(chk.worst.items()):
        print(f"worst error/tolerance {key}: {ratio:.3g} at {where}")
    for f in chk.failures[:int(os.environ.get("SOFTCE_PARITY_SHOW", "25"))]:
        print("FAIL", f)
    return 1 if chk.failures else 0


if __name__ == "__main__":
    sys.exit(main())
