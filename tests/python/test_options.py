#!/usr/bin/python3
"""The options added in libsoftce 1.1 (z_loss, softcap, logit_scale, sample_weight,
denominator, empty, smoothing 'others' and prior, kl, extra outputs) through the Python
binding and softce.torch, against the independent float64 reference of options_reference.py
(written from docs/numerics.md).

- a seeded random sweep over combinations of every new option with each other and with the
  1.0 ones (class weights, ignore_index with ignored elements, label smoothing, reductions,
  int32/int64 and soft targets, (C) / (N, C) / (N, C, d1, d2) inputs in strided layouts, f32,
  f64 and f16, upstream gradients, thread counts), each through forward, fused (also in place)
  and backward (also the soft-target gradient);
- targeted edge cases (masked NaN rows, empty means, denominators, 'others' with C = 1, priors
  with eps 0 and 1, KL at the optimum, argmax ties and NaN, bf16);
- bitwise identity with a 1.0-sized options struct when every new option is at its default;
- central finite differences in float64 with every option on;
- the binding's argument checking, and softce.torch (autograd paths, extras, module).

Tolerances: the accuracy contract of docs/numerics.md (f64 1e-12, f32 1e-5, relative to the
magnitudes of the terms of each result; gradients norm-wise), plus the output dtype's rounding.
Exit status: 0 pass, 1 fail, 77 skipped (numpy missing). SOFTCE_OPTIONS_CASES sets the sweep
size (default 4000).
"""

import ctypes
import math
import os
import sys
import time
import unittest

try:
    import numpy as np
except ImportError:
    print("SKIPPED: numpy is not importable")
    sys.exit(77)
try:
    import torch
except ImportError:
    torch = None

import softce
from softce import _api
from softce import _ctypes as C
from softce import _tensor as T
from options_reference import EmptyMean, element_shape, ref

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
I32, I64 = np.dtype(np.int32), np.dtype(np.int64)
RTOL = {F64: 1e-12, F32: 1e-5, F16: 1e-3, "bf16": 8e-3}  # working precision / output rounding
ATOL = {F64: 1e-300, F32: 1e-37, F16: 6e-8, "bf16": 1e-37}
N_CASES = int(os.environ.get("SOFTCE_OPTIONS_CASES", "4000"))
SEED = 20250110
NEW_DEFAULTS = dict(z_loss=0.0, softcap=None, logit_scale=1.0, sample_weight=None,
                    denominator="auto", empty="nan", smoothing="uniform", smoothing_prior=None,
                    kl=False)


def compare(got, want, mag, rtol, atol=0.0):
    """None when got matches want (NaN/inf exactly, else |got - want| <= rtol * mag + atol),
    else a description of the worst entry."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    if got.shape != want.shape:
        return f"shape {got.shape} != {want.shape}"
    ng, nw = np.isnan(got), np.isnan(want)
    if (ng != nw).any():
        i = tuple(np.argwhere(ng != nw)[0])
        return f"NaN mismatch at {i}: got {got[i]!r}, want {want[i]!r}"
    inf = (np.isinf(got) | np.isinf(want)) & ~nw
    if (got[inf] != want[inf]).any():
        i = tuple(np.argwhere(inf & (got != want))[0])
        return f"inf mismatch at {i}: got {got[i]!r}, want {want[i]!r}"
    ok = ~(nw | inf)
    err = np.abs(got - want)[ok]
    tol = (rtol * np.broadcast_to(np.asarray(mag, np.float64), want.shape) + atol)[ok]
    if err.size and (err > tol).any():
        k = int(np.argmax(err / tol))
        return (f"error {err[k]:.3g} > tol {tol[k]:.3g} (got {got[ok][k]!r}, want "
                f"{want[ok][k]!r}, {int((err > tol).sum())} of {err.size} entries)")
    return None


# ---------------------------------------------------------------------------------------------
# Random cases
# ---------------------------------------------------------------------------------------------

def rounded(a, dtype):
    return np.asarray(a, np.float64).astype(dtype).astype(np.float64)


def strided(values, dtype, layout, rng):
    """A numpy view of dtype holding values, with the given memory layout."""
    values = np.asarray(values)
    if values.ndim == 0 or layout == "contiguous":
        return np.array(values, dtype=dtype)
    if layout == "transposed":
        v = np.empty(values.shape[::-1], dtype).T
    elif layout == "channels_last" and values.ndim >= 2:
        moved = values.shape[:1] + values.shape[2:] + values.shape[1:2]
        v = np.moveaxis(np.empty(moved, dtype), -1, 1)
    elif layout == "stepped":
        steps = rng.integers(1, 4, size=values.ndim)
        big = np.empty([max(n * k, 1) + 1 for n, k in zip(values.shape, steps)], dtype)
        big[...] = np.nan if np.dtype(dtype).kind == "f" else -(2**30)
        v = big[tuple(slice(1, 1 + n * k, k) for n, k in zip(values.shape, steps))]
    else:
        return np.array(values, dtype=dtype)
    v[...] = values
    return v


class Case:
    """One random call: exact values (float64/int64) and the softce keyword arguments."""

    def describe(self):
        kw = {k: (f"array{np.shape(v)}" if isinstance(v, np.ndarray) else v)
              for k, v in self.kw.items()}
        return (f"{self.dtype} x{self.shape} {self.layout} "
                f"{'soft ' + str(self.tdtype) if self.soft else 'hard ' + str(self.tdtype)} "
                f"grad={None if self.grad is None else np.shape(self.grad)} {kw}")


def draw_case(rng):
    c = Case()
    c.dtype = rng.choice([F32, F32, F64, F64, F16])
    C_ = int(rng.choice([1, 2, 3, 5, 8, 16, 17, 33, 100]))
    kind = rng.random()
    n = 0 if rng.random() < 0.02 else int(rng.integers(1, 6))
    if kind < 0.1:
        shape = (C_,)
    elif kind < 0.6:
        shape = (n, C_)
    else:
        shape = (n, C_) + tuple(int(d) for d in rng.integers(1, 4, size=rng.integers(1, 3)))
    c.shape = shape
    es = element_shape(shape)
    c.layout = str(rng.choice(["contiguous", "contiguous", "transposed", "channels_last",
                               "stepped"]))
    scale = rng.choice([0.5, 2.0, 6.0, 300.0]) if c.dtype != F16 else rng.choice([0.5, 2.0])
    c.x = rounded(rng.normal(scale=scale, size=shape), c.dtype)
    c.soft = rng.random() < 0.4
    kw = {}
    kl = rng.random() < 0.25
    if c.soft:
        c.tdtype = c.dtype if rng.random() < 0.8 else rng.choice([F32, F64])
        mode = rng.integers(3)
        axis = 1 if len(shape) > 1 else 0
        if mode == 0:
            e = np.exp(rng.normal(size=shape))
            p = e / e.sum(axis=axis, keepdims=True)
        elif mode == 1:
            p = rng.uniform(size=shape)  # rows not summing to 1
        else:
            p = rng.uniform(size=shape) * (rng.random(shape) < 0.6)  # exact zeros
        c.target = rounded(p, c.tdtype)
    else:
        c.tdtype = rng.choice([I32, I64])
        t = rng.integers(0, C_, size=es)
        ignore = int(rng.choice([-100, -1, int(rng.integers(0, C_)), C_ + 3]))
        frac = rng.choice([0.0, 0.3, 1.0], p=[0.45, 0.5, 0.05])
        c.target = np.where(rng.random(es) < frac, ignore, t).astype(np.int64)
        kw["ignore_index"] = ignore
    if rng.random() < 0.4:
        kw["weight"] = rounded(rng.uniform(0.2, 2.0, size=C_), F32)
    kw["reduction"] = str(rng.choice(["mean", "mean", "sum", "none"]))
    if rng.random() < 0.5:
        kw["label_smoothing"] = float(rng.choice([0.1, 0.25, 1.0, 0.0]))
    # the new options, each on with some probability
    if rng.random() < 0.4:
        kw["z_loss"] = float(rng.choice([1e-4, 1e-2, 0.5]))
    if rng.random() < 0.35:
        kw["softcap"] = float(rng.choice([0.5, 3.0, 30.0]))
    if rng.random() < 0.35:
        kw["logit_scale"] = float(rng.choice([0.3, 1.7, 4.0]))
    if rng.random() < 0.45:
        sw = rng.uniform(0.0, 2.0, size=es) * (rng.random(es) < 0.75)
        c.swdtype = rng.choice([F32, F64, F16])
        kw["sample_weight"] = rounded(sw, c.swdtype)
    if rng.random() < 0.5:
        dens = ["auto", "valid", "weights", "elements", 0.5, 7.0, 3e3]
        kw["denominator"] = dens[int(rng.integers(len(dens)))]
    if rng.random() < 0.3:
        kw["empty"] = str(rng.choice(["nan", "zero", "error"]))
    r = rng.random()
    if r < 0.25:
        kw["smoothing"] = "others"
    elif r < 0.45:
        pr = rng.uniform(0.0, 1.0, size=C_)
        c.prdtype = rng.choice([F32, F64])
        kw["smoothing_prior"] = rounded(pr / pr.sum() if rng.random() < 0.8 else pr, c.prdtype)
    if kl:
        kw["kl"] = True
    kw["num_threads"] = int(rng.choice([0, 1, 2]))
    c.kw = kw
    # upstream gradient
    g = rng.random()
    if g < 0.4:
        c.grad = None
    elif kw["reduction"] == "none" and g < 0.8:
        c.grad = rounded(rng.uniform(-2.0, 2.0, size=es), c.dtype)
    else:
        c.grad = float(rounded(rng.uniform(0.25, 3.0), c.dtype))
    c.extras = tuple(e for e in _api.EXTRAS if rng.random() < 0.35)
    return c


def views(case, rng):
    """The numpy arguments of a case: (x, target, keyword arguments, grad)."""
    x = strided(case.x, case.dtype, case.layout, rng)
    if case.soft:
        t = strided(case.target, case.tdtype, case.layout, rng)
    else:
        t = strided(case.target, case.tdtype, case.layout if case.target.ndim > 1 else
                    "contiguous", rng)
    kw = dict(case.kw)
    if "weight" in kw:
        kw["weight"] = np.asarray(kw["weight"], np.float32)
    if "sample_weight" in kw:
        kw["sample_weight"] = strided(kw["sample_weight"], case.swdtype,
                                      rng.choice(["contiguous", "stepped"]), rng)
    if "smoothing_prior" in kw:
        kw["smoothing_prior"] = np.asarray(kw["smoothing_prior"], case.prdtype)
    grad = case.grad
    if isinstance(grad, np.ndarray):
        grad = strided(grad, case.dtype, "contiguous", rng)
    return x, t, kw, grad


class Sweep:
    """Runs cases; collects failures (a message each) and statistics."""

    def __init__(self):
        self.failures = []
        self.checks = 0
        self.errors_expected = 0

    def check(self, what, case, got, want, mag, rtol, atol=0.0):
        self.checks += 1
        msg = compare(got, want, mag, rtol, atol)
        if msg:
            self.failures.append(f"{what}: {msg}\n    case: {case.describe()}")

    def run(self, case, rng):
        x, t, kw, grad = views(case, rng)
        refkw = {k: v for k, v in case.kw.items() if k != "num_threads"}
        dt = case.dtype
        work = F32 if dt == F16 else dt
        rt = max(RTOL[work], RTOL[dt])
        at = ATOL[dt]
        try:
            want = ref(case.x, case.target, case.soft, grad=case.grad, **refkw)
        except EmptyMean:
            return self.run_empty_error(case, x, t, kw, grad)
        # forward (with extras)
        res = softce.cross_entropy(x, t, **kw, extras=case.extras)
        loss, ex = res if case.extras else (res, {})
        if loss.dtype != dt:
            self.failures.append(f"forward: loss dtype {loss.dtype}\n    case: "
                                 f"{case.describe()}")
        self.check("forward.loss", case, loss, want["loss"], want["mag_loss"], rt, at)
        self.check_extras("forward", case, ex, want, work)
        # fused
        res = softce.cross_entropy_forward_backward(x, t, **kw, grad_out=grad,
                                                    extras=case.extras)
        loss2, gx = res[:2]
        self.check("fused.loss", case, loss2, want["loss"], want["mag_loss"], rt, at)
        self.check("fused.grad_input", case, gx, want["grad_input"], want["mag_grad_input"],
                   rt, at)
        self.check_extras("fused", case, res[2] if case.extras else {}, want, work)
        # fused in place (a contiguous copy of the logits is overwritten)
        if rng.random() < 0.3:
            xi = np.array(case.x, dtype=dt)
            res = softce.cross_entropy_forward_backward(xi, t, **kw, grad_out=grad, out=xi,
                                                        extras=case.extras)
            loss3, gi = res[:2]
            self.check_extras("inplace", case, res[2] if case.extras else {}, want, work)
            self.checks += 1
            if gi is not xi:
                self.failures.append(f"in place: out is not returned\n    {case.describe()}")
            self.check("inplace.loss", case, loss3, want["loss"], want["mag_loss"], rt, at)
            self.check("inplace.grad_input", case, xi, want["grad_input"],
                       want["mag_grad_input"], rt, at)
        # backward (and the soft-target gradient)
        res = softce.cross_entropy_backward(x, t, grad, **kw, target_grad=case.soft)
        gx2, gt = res if case.soft else (res, None)
        self.check("backward.grad_input", case, gx2, want["grad_input"],
                   want["mag_grad_input"], rt, at)
        if case.soft:
            rtt = max(RTOL[work], RTOL[case.tdtype])
            self.check("backward.grad_target", case, gt, want["grad_target"],
                       want["mag_grad_target"], rtt, ATOL[case.tdtype])

    def check_extras(self, path, case, ex, want, work):
        if tuple(ex) != case.extras:
            self.failures.append(f"{path}: extras {tuple(ex)} != {case.extras}\n    case: "
                                 f"{case.describe()}")
            return
        es = element_shape(case.shape)
        rt = RTOL[work]
        for name, a in ex.items():
            want_dtype = {"lse": work, "z_loss": work, "argmax": I64,
                          "correct": np.dtype(bool)}[name]
            self.checks += 1
            if a.dtype != want_dtype or a.shape != es:
                self.failures.append(f"{path}.{name}: {a.dtype}{a.shape} != "
                                     f"{want_dtype}{es}\n    case: {case.describe()}")
                continue
            if name == "lse":
                self.check(f"{path}.lse", case, a, want["lse"], want["mag_lse"], rt)
            elif name == "z_loss":
                zl = case.kw.get("z_loss", 0.0)
                s = np.abs(np.broadcast_to(case.kw.get("sample_weight", 1.0), es))
                mag = s * zl * 2 * np.abs(want["lse"]) * want["mag_lse"]
                self.check(f"{path}.z_loss", case, a, want["z_loss"], mag, rt)
            elif not np.array_equal(a, want[name]):
                i = tuple(np.argwhere(a != want[name])[0])
                self.failures.append(f"{path}.{name}: at {i} got {a[i]}, want "
                                     f"{want[name][i]}\n    case: {case.describe()}")

    def run_empty_error(self, case, x, t, kw, grad):
        """empty='error' with a zero denominator: every entry point fails, writing nothing."""
        self.errors_expected += 1
        out = np.full(case.shape, 7.0, dtype=case.dtype)
        calls = [
            lambda: softce.cross_entropy(x, t, **kw, extras=case.extras),
            lambda: softce.cross_entropy_forward_backward(x, t, **kw, grad_out=grad, out=out,
                                                          extras=case.extras),
            lambda: softce.cross_entropy_backward(x, t, grad, **kw, target_grad=case.soft,
                                                  out=out),
        ]
        for k, call in enumerate(calls):
            self.checks += 1
            try:
                call()
            except softce.SoftceError as e:
                if e.name != "SOFTCE_ERROR_EMPTY_MEAN" or e.status != 13:
                    self.failures.append(f"empty=error call {k}: {e}\n    {case.describe()}")
            else:
                self.failures.append(f"empty=error call {k}: no error\n    {case.describe()}")
        if not (out == 7.0).all():
            self.failures.append(f"empty=error: out was written\n    {case.describe()}")


class SweepTests(unittest.TestCase):
    def test_random_combinations(self):
        rng = np.random.default_rng(SEED)
        sweep = Sweep()
        t0 = time.perf_counter()
        counts = {}
        for i in range(N_CASES):
            case = draw_case(rng)
            for k in case.kw:
                counts[k] = counts.get(k, 0) + 1
            try:
                sweep.run(case, rng)
            except Exception as e:  # a crash is a failure of that case, not of the sweep
                sweep.failures.append(f"exception {type(e).__name__}: {e}\n    case: "
                                      f"{case.describe()}")
        dt = time.perf_counter() - t0
        print(f"\n[sweep] {N_CASES} cases, {sweep.checks} checks, "
              f"{sweep.errors_expected} empty-mean errors, {len(sweep.failures)} failures, "
              f"{dt:.1f} s, isa {isa()}", file=sys.stderr)
        print(f"[sweep] option counts: {counts}", file=sys.stderr)
        for f in sweep.failures[:25]:
            print("  FAIL " + f, file=sys.stderr)
        self.assertEqual(sweep.failures, [], f"{len(sweep.failures)} failures (first above)")


def isa():
    lib = C.lib()
    fn = lib.softce_isa_name
    fn.restype = ctypes.c_char_p
    return fn().decode()


# ---------------------------------------------------------------------------------------------
# Targeted edge cases
# ---------------------------------------------------------------------------------------------

def hard_case(rng, n=6, c=5, dtype=np.float64):
    return rng.normal(size=(n, c)).astype(dtype), rng.integers(0, c, size=n)


class EdgeTests(unittest.TestCase):
    def setUp(self):
        self.rng = np.random.default_rng(11)

    def close(self, got, want, mag, rtol=1e-12, msg=""):
        err = compare(got, want, mag, rtol)
        self.assertIsNone(err, msg)

    def test_masked_nan_rows_have_exact_zero_gradient(self):
        for dtype in (np.float32, np.float64):
            for soft in (False, True):
                for opts in ({}, dict(z_loss=0.1, softcap=2.0, logit_scale=3.0, kl=True,
                                      label_smoothing=0.2, smoothing="others"),
                             dict(smoothing_prior=np.full(5, 0.2), label_smoothing=0.5)):
                    x = self.rng.normal(size=(4, 5)).astype(dtype)
                    x[1] = np.nan
                    x[3, 2] = np.inf
                    t = (self.rng.dirichlet(np.ones(5), size=4).astype(dtype) if soft
                         else np.array([0, 1, 2, 3]))
                    sw = np.array([1.0, 0.0, 0.5, 0.0])
                    for red in ("mean", "sum", "none"):
                        kw = dict(opts, reduction=red, sample_weight=sw)
                        text = f"{dtype} soft={soft} {kw}"
                        loss, g = softce.cross_entropy_forward_backward(x, t, **kw)
                        self.assertTrue(np.isfinite(loss).all(), text)
                        self.assertTrue((g[1] == 0).all() and (g[3] == 0).all(), text)
                        self.assertFalse(np.signbit(g[1]).any(), "-0.0 in a masked row")
                        res = softce.cross_entropy_backward(x, t, **kw, target_grad=soft)
                        gb, gt = res if soft else (res, None)
                        self.assertTrue((gb[[1, 3]] == 0).all(), text)
                        if soft:
                            self.assertTrue((gt[[1, 3]] == 0).all(), text)
                        if red == "none":
                            self.assertTrue((loss[[1, 3]] == 0).all(), text)
                        want = ref(x, t, soft, **kw)
                        self.close(loss, want["loss"], want["mag_loss"],
                                   1e-12 if dtype == np.float64 else 1e-5, text)
                        _, ex = softce.cross_entropy(x, t, **kw, extras=("z_loss", "correct",
                                                                         "argmax", "lse"))
                        self.assertEqual(ex["z_loss"][1], 0.0)
                        self.assertFalse(ex["correct"][1] or ex["correct"][3])
                        self.assertEqual(ex["argmax"][1], 0)  # the first NaN
                        self.assertEqual(ex["argmax"][3], 2)  # the +inf
                        self.assertTrue(np.isnan(ex["lse"][1]))

    def test_ignored_rows_with_nan_logits(self):
        x, t = hard_case(self.rng)
        x[2] = np.nan
        t[2] = -100
        for kw in (dict(z_loss=0.1), dict(softcap=1.0), dict(logit_scale=2.0, kl=True),
                   dict(sample_weight=np.linspace(0.5, 1.5, 6))):
            loss, g = softce.cross_entropy_forward_backward(x, t, **kw)
            self.assertTrue(np.isfinite(loss), kw)
            self.assertTrue((g[2] == 0).all(), kw)

    def test_empty_rules(self):
        x, t = hard_case(self.rng)
        soft = self.rng.dirichlet(np.ones(5), size=6)
        cases = [  # (target, options): each makes D == 0 for 'mean'
            (np.full(6, -100), {}),                                     # all ignored
            (t, dict(sample_weight=np.zeros(6), denominator="valid")),  # all masked
            (t, dict(sample_weight=np.zeros(6), denominator="weights")),
            (np.full(6, 3), dict(weight=np.array([1., 1, 1, 0, 1]))),   # class weight 0
            (soft, dict(sample_weight=np.zeros(6), denominator="weights")),
            (soft, dict(sample_weight=np.zeros(6), denominator="valid")),
            (np.where(np.arange(6) < 3, -100, t), dict(sample_weight=[1, 1, 1, 0, 0, 0],
                                                       denominator="valid")),
        ]
        for target, opts in cases:
            is_soft = target.shape == x.shape
            text = f"{target} {opts}"
            for empty in ("nan", "zero", "error"):
                kw = dict(opts, empty=empty)
                if empty == "error":
                    for call in (lambda: softce.cross_entropy(x, target, **kw),
                                 lambda: softce.cross_entropy_forward_backward(x, target, **kw),
                                 lambda: softce.cross_entropy_backward(x, target, **kw)):
                        with self.assertRaises(softce.SoftceError, msg=text) as cm:
                            call()
                        self.assertEqual(cm.exception.name, "SOFTCE_ERROR_EMPTY_MEAN", text)
                        self.assertEqual(cm.exception.status, 13)
                    # sum / none are never empty means
                    for red in ("sum", "none"):
                        softce.cross_entropy_forward_backward(x, target, reduction=red, **kw)
                    continue
                loss, g = softce.cross_entropy_forward_backward(x, target, **kw)
                gb = softce.cross_entropy_backward(x, target, **kw, target_grad=is_soft)
                want = ref(x, target, is_soft, **kw)
                if empty == "zero":
                    self.assertEqual(loss, 0.0, text)
                    self.assertTrue((g == 0).all(), text)
                    self.assertTrue((np.asarray(gb) == 0).all(), text)
                else:
                    self.assertTrue(np.isnan(loss), text)
                self.assertIsNone(compare(g, want["grad_input"], want["mag_grad_input"],
                                          1e-12), f"{text} empty={empty}: {g}")
        # N = 0
        x0 = np.zeros((0, 4))
        self.assertTrue(np.isnan(softce.cross_entropy(x0, np.zeros(0, int))))
        self.assertEqual(softce.cross_entropy(x0, np.zeros(0, int), empty="zero"), 0.0)
        with self.assertRaises(softce.SoftceError):
            softce.cross_entropy(x0, np.zeros(0, int), empty="error")

    def test_denominators(self):
        x, t = hard_case(self.rng, n=8)
        t[[0, 5]] = -100
        w = self.rng.uniform(0.5, 2.0, size=5)
        sw = self.rng.uniform(0.5, 2.0, size=8)
        sw[[2, 6]] = 0.0
        per = softce.cross_entropy(x, t, w, reduction="none", sample_weight=sw)
        total = per.sum()
        valid = t != -100
        expect = {
            "auto": w[t[valid]].sum(),
            "valid": float((valid & (sw != 0)).sum()),
            "weights": (sw[valid] * w[t[valid]]).sum(),
            "elements": 8.0,
            12.5: 12.5,
            1: 1.0,
        }
        for den, D in expect.items():
            loss, g = softce.cross_entropy_forward_backward(x, t, w, sample_weight=sw,
                                                            denominator=den)
            self.assertAlmostEqual(float(loss), total / D, delta=1e-13 * total / D, msg=den)
            _, gs = softce.cross_entropy_forward_backward(x, t, w, sample_weight=sw,
                                                          reduction="sum")
            self.assertIsNone(compare(g, gs / D, np.abs(gs).max() / D, 1e-13), den)
        # a denominator applies to 'mean' only
        for den in ("valid", 3.0):
            self.assertEqual(softce.cross_entropy(x, t, reduction="sum", denominator=den),
                             softce.cross_entropy(x, t, reduction="sum"))
        # soft targets: auto = elements = E; weights = sum of s
        p = self.rng.dirichlet(np.ones(5), size=8)
        per = softce.cross_entropy(x, p, reduction="none", sample_weight=sw)
        for den, D in (("auto", 8), ("elements", 8), ("valid", 6), ("weights", sw.sum())):
            got = softce.cross_entropy(x, p, sample_weight=sw, denominator=den)
            self.assertAlmostEqual(float(got), per.sum() / D, delta=1e-13, msg=den)

    def test_others_with_one_class(self):
        x = self.rng.normal(size=(4, 1))
        for eps in (0.0, 0.3, 1.0):
            for tgt in (np.zeros(4, int), self.rng.uniform(size=(4, 1))):
                soft = tgt.ndim == 2
                kw = dict(label_smoothing=eps, smoothing="others", z_loss=0.1)
                loss, g = softce.cross_entropy_forward_backward(x, tgt, **kw)
                want = ref(x, tgt, soft, **kw)
                self.close(loss, want["loss"], want["mag_loss"])
                self.close(g, want["grad_input"], want["mag_grad_input"])
                if soft:  # dq/dp = 1: the target gradient does not depend on eps
                    _, gt = softce.cross_entropy_backward(x, tgt, **kw, target_grad=True)
                    _, gt0 = softce.cross_entropy_backward(x, tgt, z_loss=0.1,
                                                           target_grad=True)
                    self.assertIsNone(compare(gt, gt0, np.abs(gt0).max(), 1e-15))
                    self.close(gt, want["grad_target"], want["mag_grad_target"])
                # without z-loss a single class has y = 0: loss 0 (no KL needed)
                l0 = softce.cross_entropy(x, tgt, label_smoothing=eps, smoothing="others")
                self.assertAlmostEqual(float(l0), 0.0, delta=1e-15)

    def test_others_hard_matches_explicit_distribution(self):
        x, t = hard_case(self.rng, c=6)
        eps = 0.3
        q = np.full((6, 6), eps / 5)
        q[np.arange(6), t] = 1 - eps
        for kl in (False, True):
            a = softce.cross_entropy(x, t, label_smoothing=eps, smoothing="others", kl=kl)
            b = softce.cross_entropy(x, q, kl=kl)
            self.assertAlmostEqual(float(a), float(b), delta=1e-13)
        ga = softce.cross_entropy_backward(x, t, label_smoothing=eps, smoothing="others")
        gb = softce.cross_entropy_backward(x, q)
        self.assertIsNone(compare(ga, gb, np.abs(gb).max(), 1e-13))

    def test_prior_eps_0_and_1(self):
        x, t = hard_case(self.rng)
        p = self.rng.dirichlet(np.ones(5), size=6)
        prior = self.rng.dirichlet(np.ones(5))
        for tgt, soft in ((t, False), (p, True)):
            # eps = 0: the prior does nothing (the same values as without it)
            a = softce.cross_entropy_forward_backward(x, tgt, smoothing_prior=prior)
            b = softce.cross_entropy_forward_backward(x, tgt)
            for u, v in zip(a, b):
                self.assertIsNone(compare(u, v, np.abs(v).max(), 1e-14))
            # eps = 1: the target is the prior alone, whatever the labels
            l1, g1 = softce.cross_entropy_forward_backward(x, tgt, label_smoothing=1.0,
                                                           smoothing_prior=prior)
            l2, g2 = softce.cross_entropy_forward_backward(x, np.tile(prior, (6, 1)))
            self.assertAlmostEqual(float(l1), float(l2), delta=1e-13)
            self.assertIsNone(compare(g1, g2, np.abs(g2).max(), 1e-13))
            if soft:  # dq/dp = 1 - eps = 0
                _, gt = softce.cross_entropy_backward(x, tgt, label_smoothing=1.0,
                                                      smoothing_prior=prior, target_grad=True)
                self.assertTrue((gt == 0).all())
            want = ref(x, tgt, soft, label_smoothing=1.0, smoothing_prior=prior)
            self.close(l1, want["loss"], want["mag_loss"])
        # a uniform prior is the default smoothing
        a = softce.cross_entropy(x, t, label_smoothing=0.4, smoothing_prior=np.full(5, 0.2))
        b = softce.cross_entropy(x, t, label_smoothing=0.4)
        self.assertAlmostEqual(float(a), float(b), delta=1e-14)

    def test_kl_at_optimum(self):
        for dtype, tol in ((np.float64, 1e-13), (np.float32, 1e-5)):
            x = self.rng.normal(scale=2.0, size=(5, 7, 3)).astype(dtype)
            for kw in ({}, dict(logit_scale=1.5), dict(softcap=2.0),
                       dict(logit_scale=0.7, softcap=4.0)):
                z = x.astype(np.float64) * kw.get("logit_scale", 1.0)
                if "softcap" in kw:
                    z = kw["softcap"] * np.tanh(z / kw["softcap"])
                p = np.exp(z - z.max(axis=1, keepdims=True))
                p = (p / p.sum(axis=1, keepdims=True)).astype(dtype)
                loss, g = softce.cross_entropy_forward_backward(x, p, kl=True, **kw)
                self.assertLess(abs(float(loss)), tol * 10, kw)
                self.assertLess(np.abs(g).max(), tol * 10, kw)
                ce = softce.cross_entropy(x, p, **kw)
                self.assertGreater(float(ce), 0.1)
                # and away from the optimum KL = CE - H(q) >= 0
                q = self.rng.dirichlet(np.ones(7), size=(5, 3)).transpose(0, 2, 1)
                self.assertGreater(float(softce.cross_entropy(x, q.astype(dtype), kl=True,
                                                              **kw)), 0)

    def test_kl_zero_probabilities_and_hard(self):
        x, t = hard_case(self.rng)
        # hard targets without smoothing: H(q) = 0, KL == CE
        self.assertEqual(float(softce.cross_entropy(x, t, kl=True)),
                         float(softce.cross_entropy(x, t)))
        p = np.zeros((6, 5))
        p[np.arange(6), t] = 1.0
        self.assertAlmostEqual(float(softce.cross_entropy(x, p, kl=True)),
                               float(softce.cross_entropy(x, p)), delta=1e-14)
        # KL changes the loss only: same input gradient
        for tgt in (t, self.rng.dirichlet(np.ones(5), size=6)):
            g1 = softce.cross_entropy_backward(x, tgt, label_smoothing=0.2, kl=True)
            g2 = softce.cross_entropy_backward(x, tgt, label_smoothing=0.2)
            self.assertIsNone(compare(g1, g2, np.abs(g2).max(), 1e-15))

    def test_extras_argmax_ties_and_nan(self):
        x = np.array([[1.0, 3.0, 3.0, 0.0],       # tie: the first
                      [np.nan, 5.0, np.nan, 1.0],  # NaN counts as largest, first NaN
                      [2.0, np.inf, np.nan, 1.0],  # NaN beats +inf
                      [-np.inf] * 4,               # all -inf: the first
                      [7.0, 7.0, 7.0, 7.0],
                      [1.0, 2.0, 40.0, 41.0]])     # saturated softcap: raw logits decide
        t = np.array([1, 0, 2, 0, 0, 2])
        for dtype in (np.float32, np.float64):
            for kw in ({}, dict(softcap=0.01), dict(logit_scale=1e-30)):
                _, ex = softce.cross_entropy(x.astype(dtype), t, reduction="none",
                                             extras=("argmax", "correct"), **kw)
                self.assertEqual(ex["argmax"].tolist(), [1, 0, 2, 0, 0, 3], kw)
                self.assertEqual(ex["correct"].tolist(), [True, True, True, True, True, False])
                self.assertEqual(ex["correct"].dtype, np.bool_)
                self.assertEqual(ex["argmax"].dtype, np.int64)
        # soft targets: correct = argmax(x) == first argmax(p)
        p = np.array([[0.2, 0.4, 0.4, 0.0], [0.5, 0.5, 0, 0], [0, 0, 1.0, 0], [0.25] * 4,
                      [0, 0, 0, 1.0], [0, 0, 0.1, 0.9]])
        _, ex = softce.cross_entropy(x, p, extras=("correct",), reduction="none")
        self.assertEqual(ex["correct"].tolist(), [True, True, True, True, False, True])
        # ignored elements are never correct
        _, ex = softce.cross_entropy(x, np.array([1, -100, 2, 0, 0, 3]), extras="correct")
        self.assertEqual(ex["correct"].tolist(), [True, False, True, True, True, True])

    def test_extras_values_and_shapes(self):
        x = self.rng.normal(size=(3, 4, 2, 5)).astype(np.float32)
        t = self.rng.integers(0, 4, size=(3, 2, 5))
        t[0, 1, 2] = -100
        sw = self.rng.uniform(size=(3, 2, 5)).astype(np.float32)
        sw[1, 0, 0] = 0
        kw = dict(z_loss=0.3, softcap=2.0, logit_scale=1.5, sample_weight=sw)
        loss, grad, ex = softce.cross_entropy_forward_backward(
            x, t, **kw, extras=["lse", "argmax", "correct", "z_loss"])
        want = ref(x, t, False, **kw)
        for name in ("lse", "z_loss"):
            self.assertEqual((ex[name].dtype, ex[name].shape), (np.float32, (3, 2, 5)))
        self.assertIsNone(compare(ex["lse"], want["lse"], want["mag_lse"], 1e-5))
        self.assertIsNone(compare(ex["z_loss"], want["z_loss"], 1 + want["z_loss"], 1e-5))
        self.assertEqual(ex["z_loss"][0, 1, 2], 0.0)
        self.assertEqual(ex["z_loss"][1, 0, 0], 0.0)
        self.assertTrue(np.isfinite(ex["lse"]).all())  # also for ignored/masked elements
        self.assertTrue((ex["argmax"] == want["argmax"]).all())
        self.assertTrue((ex["correct"] == want["correct"]).all())
        # f64 input: f64 extras; forward and fused agree bitwise
        x64 = x.astype(np.float64)
        _, e1 = softce.cross_entropy(x64, t, **kw, extras=("lse", "z_loss"))
        _, _, e2 = softce.cross_entropy_forward_backward(x64, t, **kw, extras=("lse", "z_loss"))
        for name in ("lse", "z_loss"):
            self.assertEqual(e1[name].dtype, np.float64)
            self.assertTrue(np.array_equal(e1[name], e2[name]), name)
        # f16 input: f32 extras
        _, e3 = softce.cross_entropy(x.astype(np.float16), t, extras=("lse",))
        self.assertEqual(e3["lse"].dtype, np.float32)
        # the z-loss output is the z-loss part of the per-element loss
        per_z = softce.cross_entropy(x64, t, reduction="none", z_loss=0.3)
        per_0 = softce.cross_entropy(x64, t, reduction="none")
        _, ez = softce.cross_entropy(x64, t, reduction="none", z_loss=0.3, extras=("z_loss",))
        self.assertIsNone(compare(per_z - per_0, ez["z_loss"], per_z, 1e-13))
        # 1-D input: 0-d extras
        _, e4 = softce.cross_entropy(x64[0, :, 0, 0], 2, extras=("lse", "argmax", "correct"))
        self.assertEqual(e4["lse"].shape, ())

    def test_sample_weight_forms(self):
        x, t = hard_case(self.rng)
        sw = self.rng.uniform(size=6)
        base = softce.cross_entropy(x, t, sample_weight=sw)
        for form in (sw.astype(np.float32).astype(np.float64), list(sw.astype(np.float32)),
                     sw.astype(np.float32)):
            got = softce.cross_entropy(x, t, sample_weight=form)
            self.assertAlmostEqual(float(got), float(base), delta=1e-6)
        # bool / int masks are converted; a scalar applies to every element
        mask = np.array([True, False, True, True, False, True])
        a = softce.cross_entropy(x, t, sample_weight=mask, reduction="sum")
        b = softce.cross_entropy(x[mask], t[mask], reduction="sum")
        self.assertAlmostEqual(float(a), float(b), delta=1e-13)
        a = softce.cross_entropy(x, t, sample_weight=mask.astype(np.int8), reduction="sum")
        self.assertAlmostEqual(float(a), float(b), delta=1e-13)
        a = softce.cross_entropy(x, t, sample_weight=2.5, reduction="sum")
        self.assertAlmostEqual(float(a), 2.5 * float(softce.cross_entropy(x, t,
                                                                          reduction="sum")),
                               delta=1e-13)
        # the AUTO denominator ignores sample weights
        a = softce.cross_entropy(x, t, sample_weight=np.full(6, 2.0))
        self.assertAlmostEqual(float(a), 2 * float(softce.cross_entropy(x, t)), delta=1e-13)

    def test_large_class_count_and_many_blocks(self):
        """C >= 131072 with few rows (the split mode when no option forces the row kernels)
        and many rows (several reduction blocks, threads): values and thread invariance."""
        gen = np.random.default_rng(9)
        big_c = [((2, 140001), dict(denominator="valid", empty="zero")),
                 ((3, 131072), dict(denominator=5.0)),
                 ((2, 140001), dict(z_loss=1e-3, softcap=20.0, sample_weight=[0.5, 2.0])),
                 ((1, 131100), dict(kl=True, label_smoothing=0.1, smoothing="others"))]
        many = [((3000, 40), dict(z_loss=1e-2, logit_scale=1.3, denominator="weights",
                                  sample_weight="S")),
                ((700, 20, 9), dict(softcap=5.0, smoothing_prior="P", label_smoothing=0.2,
                                    kl=True, denominator="valid", sample_weight="S")),
                ((700, 20, 9), dict(denominator="elements", empty="error"))]
        for shape, opts in big_c + many:
            for dtype, rtol in ((np.float32, 1e-5), (np.float64, 1e-12)):
                for soft in (False, True):
                    kw = dict(opts)
                    es = element_shape(shape)
                    c = shape[1]
                    if kw.get("sample_weight") == "S":
                        kw["sample_weight"] = gen.uniform(size=es) * (gen.random(es) < 0.9)
                    if kw.get("smoothing_prior") == "P":
                        kw["smoothing_prior"] = gen.dirichlet(np.ones(c))
                    x = gen.normal(scale=3.0, size=shape).astype(dtype)
                    if soft:
                        t = gen.uniform(size=shape).astype(dtype)
                    else:
                        t = gen.integers(0, c, size=es)
                        t[0] = -100
                    text = f"{shape} {dtype.__name__} soft={soft} {opts}"
                    want = ref(x, t, soft, **kw)
                    outs = []
                    for threads in (1, 2):
                        loss, g, ex = softce.cross_entropy_forward_backward(
                            x, t, **kw, num_threads=threads, extras=_api.EXTRAS)
                        outs.append((loss, g) + tuple(ex.values()))
                        self.assertTrue((ex["argmax"] == want["argmax"]).all(), text)
                        self.assertTrue((ex["correct"] == want["correct"]).all(), text)
                        self.assertIsNone(compare(ex["z_loss"], want["z_loss"],
                                                  1e-300 + 3 * want["z_loss"], rtol), text)
                        self.assertIsNone(compare(loss, want["loss"], want["mag_loss"], rtol),
                                          text)
                        self.assertIsNone(compare(g, want["grad_input"],
                                                  want["mag_grad_input"], rtol), text)
                        self.assertIsNone(compare(ex["lse"], want["lse"], want["mag_lse"],
                                                  rtol), text)
                    for a, b in zip(*outs):
                        self.assertEqual(a.tobytes(), b.tobytes(), "threads: " + text)
                    if soft:
                        _, gt = softce.cross_entropy_backward(x, t, **kw, target_grad=True)
                        self.assertIsNone(compare(gt, want["grad_target"],
                                                  want["mag_grad_target"], rtol), text)

    def test_bfloat16_through_torch_tensors(self):
        if torch is None:
            self.skipTest("torch missing")
        gen = np.random.default_rng(5)
        for soft in (False, True):
            for kw in (dict(z_loss=0.01, softcap=3.0, sample_weight=gen.uniform(size=(4, 3))),
                       dict(logit_scale=2.0, label_smoothing=0.1, smoothing="others", kl=True,
                            denominator="valid", reduction="none"),
                       dict(smoothing_prior=np.full(6, 1 / 6), label_smoothing=0.2,
                            reduction="sum")):
                xb = torch.tensor(gen.normal(size=(4, 6, 3))).to(torch.bfloat16)
                x = xb.double().numpy()
                if soft:
                    pb = torch.softmax(torch.tensor(gen.normal(size=(4, 6, 3))), 1)
                    tgt, tref = pb.to(torch.bfloat16), pb.to(torch.bfloat16).double().numpy()
                else:
                    tref = gen.integers(0, 6, size=(4, 3))
                    tgt = tref
                loss, g = softce.cross_entropy_forward_backward(xb, tgt, **kw)
                want = ref(x, tref, soft, **kw)
                text = f"bf16 soft={soft} {kw}"
                self.assertIsNone(compare(T.to_float(loss, np.float64), want["loss"],
                                          want["mag_loss"], RTOL["bf16"]), text)
                self.assertIsNone(compare(T.to_float(g, np.float64), want["grad_input"],
                                          want["mag_grad_input"], RTOL["bf16"]), text)
                if soft:
                    _, gt = softce.cross_entropy_backward(xb, tgt, **kw, target_grad=True)
                    self.assertIsNone(compare(T.to_float(gt, np.float64), want["grad_target"],
                                              want["mag_grad_target"], RTOL["bf16"]), text)


# ---------------------------------------------------------------------------------------------
# Bitwise identity with the 1.0 call when every new option is at its default
# ---------------------------------------------------------------------------------------------

OPTIONS_1_0_SIZE = C.Options.z_loss.offset  # sizeof(softce_options) in 1.0 (40)


def call_1_0(fn, x, t, grad=None, target_grad=False, **kw):
    """The entry point called with a 1.0-sized softce_options (fields after flags unread)."""
    c = _api._Call(x, kw.pop("num_threads", 0))
    c.set_loss_options(t, kw.get("weight"), kw.get("ignore_index", -100),
                       kw.get("reduction", "mean"), kw.get("label_smoothing", 0.0))
    c.opts.struct_size = OPTIONS_1_0_SIZE
    c.opts.logit_scale = float("nan")  # must be unread
    c.opts.z_loss = -1.0
    lib = C.lib()
    if fn == "forward":
        loss, lt = c.new_output(c.loss_shape())
        _api.check(lib.softce_forward(ctypes.byref(c.opts), ctypes.byref(c.x_t),
                                      ctypes.byref(c.t_t), ctypes.byref(lt), None))
        return (loss,)
    g_t = c.grad_loss(grad)
    grad_in, gt = c.grad_input(None)
    if fn == "fused":
        loss, lt = c.new_output(c.loss_shape())
        _api.check(lib.softce_forward_backward(ctypes.byref(c.opts), ctypes.byref(c.x_t),
                                               ctypes.byref(c.t_t), _api._ref(g_t),
                                               ctypes.byref(lt), ctypes.byref(gt)))
        return loss, grad_in
    tg = tgt = None
    if target_grad:
        tg = np.empty(c.x.shape, c.target.dtype)
        tgt = T.describe(tg, T.float_code(tg.dtype))
    _api.check(lib.softce_backward(ctypes.byref(c.opts), ctypes.byref(c.x_t),
                                   ctypes.byref(c.t_t), _api._ref(g_t), None, ctypes.byref(gt),
                                   _api._ref(tgt)))
    return (grad_in, tg) if target_grad else (grad_in,)


class Compat10Tests(unittest.TestCase):
    def test_defaults_are_bitwise_the_1_0_call(self):
        rng = np.random.default_rng(SEED + 1)
        n = 0
        for _ in range(300):
            case = draw_case(rng)
            kw = {k: v for k, v in case.kw.items() if k not in NEW_DEFAULTS}
            x, t, _, grad = views(case, rng)
            if "weight" in kw:
                kw["weight"] = np.asarray(kw["weight"], np.float32)
            new_kw = dict(kw, **NEW_DEFAULTS)  # every new keyword spelled at its default
            text = case.describe()
            a = (softce.cross_entropy(x, t, **new_kw, extras=()),)
            b = call_1_0("forward", x, t, **kw)
            c = (softce.cross_entropy(x, t, **kw),)
            a += softce.cross_entropy_forward_backward(x, t, **new_kw, grad_out=grad)
            b += call_1_0("fused", x, t, grad, **kw)
            c += softce.cross_entropy_forward_backward(x, t, **kw, grad_out=grad)
            r = softce.cross_entropy_backward(x, t, grad, **new_kw, target_grad=case.soft)
            a += r if case.soft else (r,)
            b += call_1_0("backward", x, t, grad, target_grad=case.soft, **kw)
            r = softce.cross_entropy_backward(x, t, grad, **kw, target_grad=case.soft)
            c += r if case.soft else (r,)
            for u, v, w in zip(a, b, c):
                n += 1
                self.assertEqual(u.tobytes(), v.tobytes(), text)
                self.assertEqual(u.tobytes(), w.tobytes(), text)
        self.assertGreater(n, 1000)

    def test_noop_values_of_new_options_match_closely(self):
        """sample_weight of ones, denominator equal to AUTO's, 'others' with eps 0: the same
        values to rounding (they may take another kernel path)."""
        rng = np.random.default_rng(3)
        for dtype, tol in ((np.float64, 1e-13), (np.float32, 3e-6)):
            x = rng.normal(size=(7, 9, 2)).astype(dtype)
            t = rng.integers(0, 9, size=(7, 2))
            t[0, 0] = -100
            base = softce.cross_entropy_forward_backward(x, t, label_smoothing=0.1)
            for kw in (dict(sample_weight=np.ones((7, 2))), dict(denominator=13.0),
                       dict(denominator="valid"), dict(smoothing="others", label_smoothing=0.0),
                       dict(z_loss=0.0, softcap=None, logit_scale=1.0)):
                kw.setdefault("label_smoothing", 0.1)
                if kw["label_smoothing"] == 0.0:
                    ref_ = softce.cross_entropy_forward_backward(x, t)
                else:
                    ref_ = base
                got = softce.cross_entropy_forward_backward(x, t, **kw)
                for u, v in zip(got, ref_):
                    self.assertIsNone(compare(u, v, np.abs(v).max(), tol), kw)


# ---------------------------------------------------------------------------------------------
# Finite differences (float64)
# ---------------------------------------------------------------------------------------------

class FiniteDifferenceTests(unittest.TestCase):
    CONFIGS = [
        dict(z_loss=0.05),
        dict(softcap=2.5),
        dict(logit_scale=1.7),
        dict(z_loss=0.1, softcap=4.0, logit_scale=0.6, label_smoothing=0.15),
        dict(kl=True, label_smoothing=0.2),
        dict(smoothing_prior="P", label_smoothing=0.3, z_loss=0.02),
        dict(smoothing="others", label_smoothing=0.25, softcap=3.0, kl=True),
        dict(z_loss=0.03, softcap=3.0, logit_scale=1.3, sample_weight="S", weight="W",
             smoothing_prior="P", label_smoothing=0.1, kl=True),
        dict(z_loss=0.03, softcap=2.0, logit_scale=2.0, sample_weight="S", weight="W",
             smoothing="others", label_smoothing=0.4, kl=True, denominator="weights"),
        dict(z_loss=0.2, sample_weight="S", denominator=3.5, kl=True, logit_scale=0.5),
    ]

    def fd_check(self, f, v, analytic, text, h=1e-6):
        fd = np.zeros_like(v)
        it = np.nditer(v, flags=["multi_index"])
        for _ in it:
            i = it.multi_index
            old = v[i]
            v[i] = old + h
            fp = f()
            v[i] = old - h
            fm = f()
            v[i] = old
            fd[i] = (fp - fm) / (2 * h)
        err = np.linalg.norm(fd - analytic) / max(np.linalg.norm(analytic), 1e-300)
        self.assertLess(err, 1e-6, f"{text}: rel err {err:.3g}\nfd {fd}\nanalytic {analytic}")
        return err

    def test_gradients(self):
        rng = np.random.default_rng(17)
        worst = 0.0
        for cfg in self.CONFIGS:
            for soft in (False, True):
                for red in ("mean", "sum", "none"):
                    shape = (3, 5, 2)
                    x = rng.normal(scale=1.5, size=shape)
                    kw = dict(cfg, reduction=red)
                    if kw.get("weight") == "W":
                        kw["weight"] = rng.uniform(0.5, 1.5, size=5)
                    if kw.get("sample_weight") == "S":
                        s = rng.uniform(0.2, 2.0, size=(3, 2))
                        s[1, 0] = 0.0
                        kw["sample_weight"] = s
                    if kw.get("smoothing_prior") == "P":
                        kw["smoothing_prior"] = rng.dirichlet(np.ones(5))
                    if soft:
                        t = rng.dirichlet(np.ones(5), size=(3, 2)).transpose(0, 2, 1).copy()
                    else:
                        t = rng.integers(0, 5, size=(3, 2))
                        t[2, 1] = -100
                    g = rng.uniform(0.5, 1.5, size=(3, 2)) if red == "none" else 1.3
                    text = f"soft={soft} {kw}"

                    def f():
                        loss = softce.cross_entropy(x, t, **kw)
                        return float(np.sum(loss * g))
                    res = softce.cross_entropy_backward(x, t, g, **kw, target_grad=soft)
                    gx, gt = res if soft else (res, None)
                    worst = max(worst, self.fd_check(f, x, gx, "input " + text))
                    _, gf = softce.cross_entropy_forward_backward(x, t, **kw, grad_out=g)
                    self.assertIsNone(compare(gf, gx, np.abs(gx).max(), 1e-13), text)
                    if soft:
                        worst = max(worst, self.fd_check(f, t, gt, "target " + text))
        print(f"\n[fd] worst relative error {worst:.2e}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Argument checking of the binding
# ---------------------------------------------------------------------------------------------

class ArgumentTests(unittest.TestCase):
    def setUp(self):
        self.x = np.zeros((3, 4))
        self.t = np.array([0, 1, 2])

    def bad(self, name, needle, **kw):
        for fn in (softce.cross_entropy, softce.cross_entropy_forward_backward,
                   softce.cross_entropy_backward):
            with self.assertRaises(softce.SoftceError, msg=str(kw)) as cm:
                fn(self.x, self.t, **kw)
            self.assertEqual(cm.exception.name, name, str(kw))
            self.assertIn(needle, str(cm.exception), str(kw))

    def test_bad_values(self):
        O = "SOFTCE_ERROR_OPTION"
        for v in (-0.1, float("nan"), float("inf"), "0.1", None, True):
            self.bad(O, "z_loss", z_loss=v)
        for v in (0, 0.0, -1.0, float("inf"), float("nan"), "3"):
            self.bad(O, "softcap", softcap=v)
        for v in (0.0, -2.0, float("nan"), float("inf"), None):
            self.bad(O, "logit_scale", logit_scale=v)
        for v in ("mean", "AUTO", 0, 0.0, -3.0, float("inf"), float("nan"), None, True, [1]):
            self.bad(O, "denominator", denominator=v)
        for v in ("NaN", "raise", None, 0):
            self.bad(O, "empty", empty=v)
        for v in ("label", "Uniform", None, 1):
            self.bad(O, "smoothing", smoothing=v)
        for v in (1, "yes", None):
            self.bad(O, "kl", kl=v)
        # checked by the library
        self.bad(O, "smoothing_prior", smoothing="others", smoothing_prior=np.ones(4))
        self.bad("SOFTCE_ERROR_SHAPE", "smoothing_prior", smoothing_prior=np.ones(5))
        self.bad("SOFTCE_ERROR_SHAPE", "sample_weight", sample_weight=np.ones(4))
        self.bad("SOFTCE_ERROR_SHAPE", "sample_weight", sample_weight=np.ones((3, 1)))
        self.bad("SOFTCE_ERROR_DTYPE", "sample_weight", sample_weight=np.array(["a"] * 3))
        self.bad("SOFTCE_ERROR_DTYPE", "smoothing_prior", smoothing_prior=np.ones(4, complex))

    def test_bad_extras(self):
        for v in (("lse", "loss"), ("LSE",), 3, ("argmax", None)):
            for fn in (softce.cross_entropy, softce.cross_entropy_forward_backward):
                with self.assertRaises(softce.SoftceError) as cm:
                    fn(self.x, self.t, extras=v)
                self.assertEqual(cm.exception.name, "SOFTCE_ERROR_OPTION")
                self.assertIn("extras", str(cm.exception))
        with self.assertRaises(TypeError):  # backward writes no extra outputs
            softce.cross_entropy_backward(self.x, self.t, extras=("lse",))

    def test_failed_calls_write_nothing(self):
        out = np.full((3, 4), 5.0)
        with self.assertRaises(softce.SoftceError):
            softce.cross_entropy_forward_backward(self.x, self.t, out=out,
                                                  sample_weight=np.ones(2))
        with self.assertRaises(softce.SoftceError):
            softce.cross_entropy_backward(self.x, np.full(3, -100), out=out, empty="error")
        self.assertTrue((out == 5.0).all())

    def test_extras_forms(self):
        loss = softce.cross_entropy(self.x, self.t, extras=())
        self.assertIsInstance(loss, np.ndarray)
        loss = softce.cross_entropy(self.x, self.t, extras=None)
        self.assertIsInstance(loss, np.ndarray)
        _, ex = softce.cross_entropy(self.x, self.t, extras="lse")
        self.assertEqual(list(ex), ["lse"])
        _, ex = softce.cross_entropy(self.x, self.t, extras=["z_loss", "lse", "z_loss"])
        self.assertEqual(list(ex), ["z_loss", "lse"])
        r = softce.cross_entropy_forward_backward(self.x, self.t, extras=("argmax",))
        self.assertEqual(len(r), 3)
        self.assertAlmostEqual(float(softce.cross_entropy(self.x, self.t,
                                                          denominator=np.float64(2.0))),
                               3 * math.log(4) / 2, delta=1e-14)


# ---------------------------------------------------------------------------------------------
# softce.torch
# ---------------------------------------------------------------------------------------------

@unittest.skipIf(torch is None, "torch missing")
class TorchTests(unittest.TestCase):
    def setUp(self):
        import softce.torch as st
        self.st = st
        self.gen = np.random.default_rng(23)

    def options(self, c, es):
        g = self.gen
        return dict(z_loss=0.05, softcap=3.0, logit_scale=1.4,
                    sample_weight=torch.tensor(g.uniform(0, 2, size=es) * (g.random(es) < .8)),
                    denominator="valid", smoothing_prior=torch.tensor(g.dirichlet(np.ones(c))),
                    label_smoothing=0.2, kl=True)

    def test_paths_against_reference(self):
        st = self.st
        for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
            for soft in (False, True):
                for red in ("mean", "sum", "none"):
                    x0 = torch.tensor(self.gen.normal(size=(4, 6, 3)))
                    if soft:
                        t0 = torch.softmax(torch.tensor(self.gen.normal(size=(4, 6, 3))), 1)
                    else:
                        t0 = torch.tensor(self.gen.integers(0, 6, size=(4, 3)))
                        t0[0, 0] = -100
                    kw = self.options(6, (4, 3))
                    kw["reduction"] = red
                    w = torch.tensor(self.gen.uniform(0.5, 1.5, size=6))
                    g = torch.tensor(self.gen.uniform(0.5, 1.5, size=(4, 3) if red == "none"
                                                      else ()))
                    xr, tr = x0.to(dtype).double().numpy(), (t0.to(dtype).double().numpy()
                                                            if soft else t0.numpy())
                    want = ref(xr, tr, soft, weight=w.numpy(), grad=g.numpy(),
                               **{k: (v.numpy() if isinstance(v, torch.Tensor) else v)
                                  for k, v in kw.items()})
                    text = f"{dtype} soft={soft} {red}"
                    paths = ["fused", "nograd"] + (["target"] if soft else []) + ["inplace"]
                    for path in paths:
                        x = x0.to(dtype).clone().requires_grad_(path != "nograd")
                        t = t0.to(dtype) if soft else t0
                        if path == "target":
                            t = t.clone().requires_grad_()
                        xin = x * 1 if path == "inplace" else x  # not a leaf
                        loss, ex = st.cross_entropy(xin, t, w, **kw, inplace=path == "inplace",
                                                    extras=("lse", "correct"))
                        self.assertIsNone(compare(loss.detach(), want["loss"],
                                                  want["mag_loss"], tol), f"{text} {path}")
                        self.assertIsNone(compare(ex["lse"], want["lse"], want["mag_lse"],
                                                  tol), f"{text} {path}")
                        self.assertTrue((ex["correct"].numpy() == want["correct"]).all())
                        self.assertFalse(ex["lse"].requires_grad)
                        if path == "nograd":
                            continue
                        loss.backward(g.to(dtype))
                        self.assertIsNone(compare(x.grad, want["grad_input"],
                                                  want["mag_grad_input"], tol),
                                          f"{text} {path}")
                        if path == "target":
                            self.assertIsNone(compare(t.grad, want["grad_target"],
                                                      want["mag_grad_target"], tol),
                                              f"{text} {path}")

    def test_gradcheck_all_options(self):
        st = self.st
        x = torch.tensor(self.gen.normal(size=(3, 5, 2)), requires_grad=True)
        p = torch.softmax(torch.tensor(self.gen.normal(size=(3, 5, 2))), 1).requires_grad_()
        t = torch.tensor(self.gen.integers(0, 5, size=(3, 2)))
        for red in ("mean", "sum", "none"):
            kw = self.options(5, (3, 2))
            kw["reduction"] = red
            self.assertTrue(torch.autograd.gradcheck(
                lambda a, b: st.cross_entropy(a, b, **kw), (x, p)))
            self.assertTrue(torch.autograd.gradcheck(
                lambda a: st.cross_entropy(a, t, **kw), (x,)))
            kw["smoothing"], kw["smoothing_prior"] = "others", None
            self.assertTrue(torch.autograd.gradcheck(
                lambda a, b: st.cross_entropy(a, b, **kw), (x, p)))

    def test_module_and_errors(self):
        st = self.st
        x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
        t = torch.tensor([0, 1, 2, 3])
        m = st.CrossEntropyLoss(z_loss=0.1, softcap=5.0, denominator="weights", empty="zero",
                                smoothing_prior=[0.2] * 5, label_smoothing=0.1)
        sw = torch.tensor([1.0, 0.0, 2.0, 1.0])
        a = m(x, t, sample_weight=sw)
        b = st.cross_entropy(x, t, z_loss=0.1, softcap=5.0, denominator="weights",
                             empty="zero", smoothing_prior=torch.full((5,), 0.2),
                             label_smoothing=0.1, sample_weight=sw)
        self.assertEqual(float(a), float(b))
        self.assertIn("smoothing_prior", m.state_dict())
        loss, ex = m(x, t, extras=("argmax",))
        self.assertEqual(ex["argmax"].dtype, torch.int64)
        with self.assertRaises(softce.SoftceError):
            st.CrossEntropyLoss(empty="never")
        # no gradient flows to sample weights: refused when it would be expected
        swg = sw.clone().requires_grad_()
        with self.assertRaises(softce.SoftceError) as cm:
            st.cross_entropy(x, t, sample_weight=swg)
        self.assertIn("sample_weight", str(cm.exception))
        with torch.no_grad():
            st.cross_entropy(x, t, sample_weight=swg)
        st.cross_entropy(x, t, sample_weight=swg.detach())
        # calls libsoftce cannot take fall back to torch only without the new options
        xi = torch.zeros(4, 5, dtype=torch.int64)
        with self.assertRaises(softce.SoftceError) as cm:
            st.cross_entropy(xi, t, z_loss=0.1)
        self.assertIn("z_loss", str(cm.exception))
        with self.assertRaises(softce.SoftceError):
            st.cross_entropy(xi, t, extras=("lse",))
        with self.assertRaises(softce.SoftceError):
            st.cross_entropy(x, t, empty="error", sample_weight=torch.zeros(4),
                             denominator="valid")
        with self.assertRaises(softce.SoftceError):
            st.cross_entropy(x, t, softcap=0.0)


if __name__ == "__main__":
    t0 = time.perf_counter()
    result = unittest.main(exit=False, verbosity=1).result
    print(f"test_options: {result.testsRun} tests in {time.perf_counter() - t0:.1f} s",
          file=sys.stderr)
    sys.exit(0 if result.wasSuccessful() else 1)
