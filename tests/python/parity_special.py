"""Special cases of the PyTorch differential test.

1. Deliberate difference (SPEC section 2, improvement 1): a soft-target term with q = 0 at a
   -inf logit contributes 0 (PyTorch: NaN). Our results must equal PyTorch's on the same case
   with -inf replaced by -1e300 (where 0 * y = 0), and PyTorch itself must give NaN.
2. Hard targets with -inf logits at non-target classes (any label smoothing): equal to PyTorch.
3. bfloat16 logits/targets through the raw C entry points (numpy has no bfloat16), with f32 or
   bf16 outputs, against PyTorch on the bf16-rounded values.
"""

import ctypes

import numpy as np
import torch

from softce import _ctypes as C
from softce import _tensor as T
from parity_cases import (F16, F32, F64, I64, LAYOUTS, Case, draw_hard, draw_soft, rounded,
                          set_views)
from parity_reference import magnitudes, torch_reference
from parity_check import BF16, grad_arg, softce_kwargs

def _neg_inf_case(rng, soft):
    dtype = rng.choice((F32, F64, F16))
    c = int(rng.integers(2, 40))
    shape = (int(rng.integers(1, 6)), c) + ((int(rng.integers(1, 4)),) if rng.random() < .4
                                            else ())
    x = rounded(rng.normal(scale=3.0, size=shape), dtype)
    mask = rng.random(shape) < 0.3
    first = (slice(None), slice(0, 1)) + (slice(None),) * (len(shape) - 2)
    mask[first] = False  # class 0 stays finite: every row has a finite logit
    spot = [int(rng.integers(n)) for n in shape]
    spot[1] = int(rng.integers(1, c))
    mask[tuple(spot)] = True  # at least one -inf
    elem = shape[:1] + shape[2:]
    if soft:
        target = draw_soft(rng, shape, dtype) * ~mask
        tdtype, eps, ignore = dtype, 0.0, -100
    else:
        target, ignore = draw_hard(rng, elem, c, I64)
        onehot = np.moveaxis(np.arange(c) == target[..., None], -1, 1)
        mask &= ~onehot  # never -inf at the target class
        tdtype, eps = I64, float(rng.choice((0.0, 0.0, 0.2)))
    red = str(rng.choice(("mean", "sum", "none")))
    case = Case(dtype=dtype, x=np.where(mask, -np.inf, x), target=target, tdtype=tdtype,
                soft=soft, reduction=red, ignore_index=ignore, eps=eps)
    if rng.random() < 0.5:
        case.weight = rounded(rng.uniform(0.5, 2.0, size=c), F32)
    if rng.random() < 0.5:
        case.grad = rounded(rng.normal(size=elem if red == "none" else ()), dtype)
    # No broadcast layout: it would move targets onto -inf logits.
    set_views(case, rng, [k for k in LAYOUTS if k != "broadcast"])
    return case, np.isneginf(case.x)


def check_neg_inf(chk, idx, case, mask):
    import softce

    text = f"special #{idx} -inf {case.describe()}"
    x, t, kw = case.views["x"][0], case.views["target"][0], softce_kwargs(case)
    g = grad_arg(case)
    work = F32 if case.dtype == F16 else case.dtype
    dts = (work, case.dtype)
    if case.soft:
        chk.expect("torch_nan", np.isnan(torch_reference(case)["loss"]).any(), text,
                   "PyTorch no longer gives NaN: the deliberate difference is gone")
        case.x = np.where(mask, -1e300, case.x)
    ref, mag = torch_reference(case), magnitudes(case)
    loss, gx = softce.cross_entropy_forward_backward(x, t, **kw, grad_out=g)
    chk.compare("-inf.loss", loss, ref["loss"], mag["loss"], dts, text)
    chk.compare("-inf.grad", gx, ref["grad_input"], mag["grad_input"], dts, text)
    chk.compare("-inf.cross_entropy", softce.cross_entropy(x, t, **kw), ref["loss"],
                mag["loss"], dts, text)
    if case.soft:
        _, gt = softce.cross_entropy_backward(x, t, g, **kw, target_grad=True)
        # d loss / d q at a -inf logit is -w * y * g / D = +-inf: compare the rest.
        chk.compare("-inf.grad_target", np.where(mask, 0, gt), np.where(mask, 0,
                    ref["grad_target"]), mag["grad_target"], dts, text)


def bf16_bits(values):
    """(uint16 bit patterns, float64 values after rounding to bf16)."""
    b = torch.tensor(values, dtype=torch.float64).to(torch.bfloat16)
    return b.view(torch.int16).numpy().view(np.uint16), b.to(torch.float64).numpy()


def bf16_decode(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _tensor(a, code):
    return T.describe(a, code)


def check_bf16(chk, idx, rng):
    soft = rng.random() < 0.5
    c = int(rng.choice((3, 16, 37, 100)))
    shape = (int(rng.integers(1, 9)), c) + ((3,) if rng.random() < 0.3 else ())
    xbits, x = bf16_bits(rng.normal(scale=3.0, size=shape))
    elem = shape[:1] + shape[2:]
    if soft:
        tbits, target = bf16_bits(draw_soft(rng, shape, F32))
        t_desc = _tensor(tbits, C.DTYPE_BF16)
    else:
        target, ignore = draw_hard(rng, elem, c, I64)
        t_desc = _tensor(target, C.DTYPE_I64)
    red = str(rng.choice(("mean", "sum", "none")))
    case = Case(dtype=F32, x=x, target=target, tdtype=F32, soft=soft, reduction=red,
                ignore_index=-100 if soft else ignore, eps=float(rng.choice((0.0, 0.3))))
    text = f"special #{idx} bf16 {case.describe()}"
    ref, mag = torch_reference(case), magnitudes(case)
    out_bf16 = rng.random() < 0.5
    loss = np.empty(ref["loss"].shape, np.float32)
    grad = np.empty(shape, np.uint16 if out_bf16 else np.float32)
    opts = C.Options()
    C.lib().softce_options_init(ctypes.byref(opts))
    opts.reduction = C.REDUCTIONS[red]
    opts.ignore_index = case.ignore_index
    opts.label_smoothing = case.eps
    descs = [_tensor(xbits, C.DTYPE_BF16), t_desc, _tensor(loss, C.DTYPE_F32),
             _tensor(grad, C.DTYPE_BF16 if out_bf16 else C.DTYPE_F32)]
    status = C.lib().softce_forward_backward(ctypes.byref(opts), ctypes.byref(descs[0]),
                                             ctypes.byref(descs[1]), None,
                                             ctypes.byref(descs[2]), ctypes.byref(descs[3]))
    chk.expect("bf16.status", status == 0, text, f"status {status}")
    chk.compare("bf16.loss", loss, ref["loss"], mag["loss"], (F32,), text)
    g = bf16_decode(grad) if out_bf16 else grad
    chk.compare("bf16.grad", g, ref["grad_input"], mag["grad_input"],
                (F32, BF16) if out_bf16 else (F32,), text)


def run(chk, rng):
    """Runs the special cases; returns how many."""
    n = 0
    for soft in [True] * 150 + [False] * 100:
        case, mask = _neg_inf_case(rng, soft)
        try:
            check_neg_inf(chk, n, case, mask)
        except Exception as e:
            chk.fail("exception", f"special #{n} {case.describe()}", repr(e))
        n += 1
    for _ in range(200):
        check_bf16(chk, n, rng)
        n += 1
    return n
