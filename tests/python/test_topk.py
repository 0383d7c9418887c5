#!/usr/bin/python3
"""Sparse top-k soft targets through the Python binding (softce._topk).

A seeded sweep over shapes ((C), (N, C), (N, C, d1), (N, C, d1, d2); K = 0, K = C, K > C with
duplicates; strided top-k operands), dtypes (f32/f64 logits and probabilities, int32/int64/other
integer indices), rest 'ignore'/'uniform', every option of dense soft targets and the extra
outputs. Each case checks
  - loss, grad_input (fused and separate backward, in place) and the extras against softce's
    dense soft-target path (softce.cross_entropy* with the equivalent dense target built here);
  - grad_prob against the chain rule applied here to the dense path's grad_target;
  - for cases using only the 1.0 options, loss, grad_input and grad_prob against
    torch.nn.functional.cross_entropy with the dense target (float64, autograd);
  - for f64 cases, grad_prob against central finite differences of the top-k loss.
Then bad inputs: SoftceError with the exact status and detail, outputs untouched.
Exit status: 0 pass, 1 fail, 77 skipped (numpy or torch missing).
"""

import math
import os
import sys
import unittest

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print(f"SKIPPED: {e}")
    sys.exit(77)

import softce
from softce._topk import (cross_entropy_topk, cross_entropy_topk_backward,
                          cross_entropy_topk_forward_backward)

SEED = 20250117
N_CASES = int(os.environ.get("SOFTCE_TOPK_CASES", "1500"))
RTOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-11}
RTOL_TORCH = {np.dtype(np.float32): 3e-5, np.dtype(np.float64): 1e-11}


# ---- the equivalent dense target and the chain rule, independent of the library -----------

def element_shape(xshape):
    return tuple(xshape[:1]) + tuple(xshape[2:]) if len(xshape) >= 2 else ()


def to_class_axis(a, ndim):
    """Element-major (..., C) -> the logits layout (class axis at dim 1, or 0 for 1-D)."""
    return np.moveaxis(a, -1, 1) if ndim >= 2 else a


def to_element_major(a, ndim):
    return np.moveaxis(a, 1, -1) if ndim >= 2 else a


def flat_topk(idx, prob, C):
    K, E = idx.shape[-1], math.prod(idx.shape[:-1])
    i2 = np.asarray(idx).astype(np.int64).reshape(E, K)
    p2 = np.asarray(prob, np.float64).reshape(E, K)
    rows = np.repeat(np.arange(E), K)
    listed = np.zeros((E, C), bool)
    listed[rows, i2.ravel()] = True
    return i2, p2, rows, listed


def dense_target(idx, prob, C, rest, xshape, dtype):
    """The dense soft target p (logits layout, dtype) of a top-k target, built in float64."""
    i2, p2, rows, listed = flat_topk(idx, prob, C)
    d = np.zeros(listed.shape)
    np.add.at(d, (rows, i2.ravel()), p2.ravel())
    if rest == "uniform":
        n_rest = C - listed.sum(axis=1)
        share = np.where(n_rest > 0, (1.0 - p2.sum(axis=1)) / np.maximum(n_rest, 1), 0.0)
        d = np.where(listed, d, share[:, None])
    d = d.reshape(element_shape(xshape) + (C,))
    return np.ascontiguousarray(to_class_axis(d, len(xshape))).astype(dtype)


def chain_grad_prob(grad_target, idx, C, rest, ndim):
    """d loss / d topk_prob from d loss / d p (dense, logits layout): entry k gets the dense
    gradient at its class, plus (uniform) the share's derivative -1/(C - listed) times the
    dense gradient summed over the classes not listed."""
    gt = np.asarray(to_element_major(np.asarray(grad_target, np.float64), ndim))
    gt = gt.reshape(math.prod(idx.shape[:-1]), C)
    i2, _, rows, listed = flat_topk(idx, np.zeros(idx.shape), C)
    gp = gt[rows, i2.ravel()].reshape(i2.shape)
    if rest == "uniform":
        n_rest = C - listed.sum(axis=1)
        rest_sum = np.where(listed, 0.0, gt).sum(axis=1)
        gp = gp - np.where(n_rest > 0, rest_sum / np.maximum(n_rest, 1), 0.0)[:, None]
    return gp.reshape(idx.shape)


# ---- comparison -------------------------------------------------------------------------------

class Failures:
    def __init__(self):
        self.items = []
        self.checks = 0

    def compare(self, label, got, want, rtol, text, floor=0.0):
        """NaN positions must match; elsewhere |got - want| <= rtol * max(max|want|, floor)
        (norm-wise; floor: the magnitude of the terms, for results that cancel to ~0)."""
        self.checks += 1
        got = np.asarray(got, np.float64)
        want = np.asarray(want, np.float64)
        if got.shape != want.shape:
            return self.items.append(f"{label}: shape {got.shape} != {want.shape} [{text}]")
        ng, nw = np.isnan(got), np.isnan(want)
        if (ng != nw).any():
            return self.items.append(f"{label}: NaN mismatch [{text}]")
        ok = ~nw
        scale = max(np.max(np.abs(want[ok]), initial=0.0), floor, 1e-300)
        err = np.max(np.abs(got[ok] - want[ok]), initial=0.0)
        if not err <= rtol * scale:
            self.items.append(f"{label}: error {err:.3g} > {rtol:.1g} * {scale:.3g} [{text}]")

    def expect(self, label, cond, text):
        self.checks += 1
        if not cond:
            self.items.append(f"{label} [{text}]")


# ---- random cases ----------------------------------------------------------------------------

SHAPES = ("c", "nc", "ncd", "ncdd")


def draw_case(rng):
    kind = SHAPES[rng.integers(len(SHAPES))]
    C = int(rng.choice([1, 2, 3, 5, 8, 17, 40]))
    N = int(rng.choice([0, 1, 2, 3, 6])) if rng.random() < 0.9 else 0
    if kind == "c":
        xshape = (C,)
    elif kind == "nc":
        xshape = (N, C)
    elif kind == "ncd":
        xshape = (N, C, int(rng.integers(1, 4)))
    else:
        xshape = (N, C, int(rng.integers(1, 3)), int(rng.integers(1, 4)))
    K = int(rng.choice([0, 1, 2, C, C + 2, min(3, C)]))
    es = element_shape(xshape)
    xdt = np.dtype(rng.choice([np.float32, np.float64]))
    pdt = np.dtype(rng.choice([np.float32, np.float64]))
    idt = np.dtype(rng.choice([np.int32, np.int64, np.int64, np.int16, np.uint8]))
    x = (rng.normal(size=xshape) * rng.choice([1.0, 4.0])).astype(xdt)
    E = math.prod(es)
    if K == C and rng.random() < 0.5:  # every class listed once
        idx = np.stack([rng.permutation(C) for _ in range(E)]) if E else np.zeros((0, C))
    elif K <= C and rng.random() < 0.6:  # distinct classes
        idx = np.stack([rng.permutation(C)[:K] for _ in range(E)]) if E else np.zeros((0, K))
    else:  # with replacement: duplicates
        idx = rng.integers(0, C, size=(E, K))
    idx = idx.reshape(es + (K,)).astype(idt)
    raw = rng.uniform(0.05, 1.0, size=es + (K,))
    mass = rng.uniform(0.3, 1.0)
    prob = (raw / np.maximum(raw.sum(axis=-1, keepdims=True), 1e-300) * mass).astype(pdt)
    case = dict(xshape=xshape, C=C, K=K, x=x, idx=idx, prob=prob,
                rest=str(rng.choice(["ignore", "uniform"])),
                kw=dict(reduction=str(rng.choice(["mean", "sum", "none"])),
                        num_threads=int(rng.choice([0, 1, 2]))))
    kw = case["kw"]
    if rng.random() < 0.4:
        kw["weight"] = rng.uniform(0.3, 2.0, size=C).astype(rng.choice([np.float32,
                                                                         np.float64]))
    if rng.random() < 0.4:
        kw["label_smoothing"] = float(rng.uniform(0.0, 0.4))
    extended = rng.random() < 0.5
    if extended:
        if rng.random() < 0.4:
            kw["z_loss"] = float(rng.choice([1e-3, 0.05]))
        if rng.random() < 0.3:
            kw["softcap"] = float(rng.choice([3.0, 20.0]))
        if rng.random() < 0.3:
            kw["logit_scale"] = float(rng.choice([0.5, 1.7]))
        if rng.random() < 0.4:
            sw = rng.uniform(0.2, 2.0, size=es)
            sw[rng.random(size=es) < 0.3] = 0.0
            kw["sample_weight"] = sw.astype(xdt)
        if kw["reduction"] == "mean" and rng.random() < 0.5:
            kw["denominator"] = rng.choice(["auto", "valid", "weights", "elements", 2.5]).item()
            if isinstance(kw["denominator"], str) and kw["denominator"][0].isdigit():
                kw["denominator"] = float(kw["denominator"])
        if rng.random() < 0.3:
            kw["empty"] = str(rng.choice(["nan", "zero"]))
        r = rng.random()
        if r < 0.2:
            kw["smoothing"] = "others"
            kw.setdefault("label_smoothing", 0.1)
        elif r < 0.4:
            prior = rng.uniform(0.1, 1.0, size=C)
            kw["smoothing_prior"] = (prior / prior.sum()).astype(xdt)
            kw.setdefault("label_smoothing", 0.2)
        if rng.random() < 0.3:
            kw["kl"] = True
        if rng.random() < 0.4:
            kw["extras"] = tuple(rng.permutation(["lse", "argmax", "correct", "z_loss"])
                                 [:rng.integers(1, 5)])
    case["extended"] = extended
    red = kw["reduction"]
    g = rng.random()
    lshape = es if red == "none" else ()
    case["grad"] = None if g < 0.4 else rng.uniform(-2.0, 2.0, size=lshape).astype(xdt)
    if rng.random() < 0.3:  # strided top-k operands: every other entry of a wider array
        wide_i = np.zeros(es + (2 * K,), idt)
        wide_i[..., ::2] = idx
        wide_p = np.full(es + (2 * K,), np.nan, pdt)
        wide_p[..., ::2] = prob
        case["idx"], case["prob"] = wide_i[..., ::2], wide_p[..., ::2]
    case["in_place"] = rng.random() < 0.3
    return case


def describe(case):
    kw = {k: (v if not isinstance(v, np.ndarray) else f"array{v.shape}")
          for k, v in case["kw"].items()}
    return (f"x{case['xshape']} {case['x'].dtype} K={case['K']} idx {case['idx'].dtype} "
            f"prob {case['prob'].dtype} rest={case['rest']} {kw} "
            f"grad={'None' if case['grad'] is None else case['grad'].shape}")


def dense_kw(kw):
    return {k: v for k, v in kw.items() if k != "extras"}


def torch_reference(x, dense, kw, grad):
    """float64 loss and gradients (input, dense target) of F.cross_entropy with probabilities."""
    xt = torch.tensor(np.asarray(x, np.float64), requires_grad=True)
    tt = torch.tensor(np.asarray(dense, np.float64), requires_grad=True)
    w = kw.get("weight")
    loss = F.cross_entropy(xt, tt, weight=None if w is None else torch.tensor(
        np.asarray(w, np.float64)), reduction=kw["reduction"],
        label_smoothing=kw.get("label_smoothing", 0.0))
    g = torch.ones_like(loss) if grad is None else torch.tensor(
        np.broadcast_to(np.asarray(grad, np.float64), loss.shape).copy())
    loss.backward(g)
    return loss.detach().numpy(), xt.grad.numpy(), tt.grad.numpy()


def finite_difference_grad_prob(case, h=1e-6):
    """d (sum of grad * loss) / d topk_prob by central differences, float64."""
    kw = dict(case["kw"])
    kw.pop("extras", None)
    x, idx = case["x"], case["idx"]
    prob = np.array(case["prob"], np.float64)
    g = case["grad"]

    def value(p):
        loss = cross_entropy_topk(x, idx, p, rest=case["rest"], **kw)
        loss = np.asarray(loss, np.float64)
        return float((loss * (1.0 if g is None else np.asarray(g, np.float64))).sum())

    out = np.zeros(prob.shape)
    for pos in np.ndindex(*prob.shape):
        up, dn = prob.copy(), prob.copy()
        up[pos] += h
        dn[pos] -= h
        out[pos] = (value(up) - value(dn)) / (2 * h)
    return out


def magnitudes(case, dense):
    """Error scales (grad_input, grad_prob) of a case: the largest term of the gradient
    formulas (docs/numerics.md), so that a gradient that cancels to ~0 is compared with the
    size of what cancelled, not with its own rounding noise."""
    x, kw, C = case["x"], case["kw"], case["C"]
    es = element_shape(case["xshape"])
    E = math.prod(es)
    if E == 0:
        return 0.0, 0.0
    s = np.broadcast_to(np.asarray(kw.get("sample_weight", 1.0), np.float64), es)
    g = np.broadcast_to(np.abs(np.asarray(1.0 if case["grad"] is None else case["grad"],
                                          np.float64)), es if kw["reduction"] == "none" else ())
    den = 1.0
    if kw["reduction"] == "mean":
        d = kw.get("denominator", "auto")
        den = (d if not isinstance(d, str) else float(np.count_nonzero(s)) if d == "valid"
               else float(s.sum()) if d == "weights" else float(E))
    if den == 0.0:
        return 0.0, 0.0
    G = float(np.max(g)) * float(np.max(s)) / den
    w = float(np.max(kw.get("weight", np.ones(1))))
    psum = float(np.max(np.abs(to_element_major(dense, len(case["xshape"]))).reshape(E, C)
                        .sum(axis=1))) + 1.0
    a = kw.get("logit_scale", 1.0)
    zmax = a * float(np.max(np.abs(x))) + math.log(C) + 1.0
    gx = G * (w * psum + 2.0 * kw.get("z_loss", 0.0) * zmax) * max(1.0, a)
    return gx, G * w * (zmax + (40.0 if kw.get("kl") else 0.0))


def run_case(chk, case, text):
    x, idx, prob, rest, kw, g = (case["x"], case["idx"], case["prob"], case["rest"],
                                 case["kw"], case["grad"])
    C, nd = case["C"], len(case["xshape"])
    rt = RTOL[x.dtype]
    # float64: the library stages the dense row in the compute type, from the probabilities
    # summed (and the uniform share computed) in double
    dense = dense_target(idx, prob, C, rest, case["xshape"], np.float64)
    dkw = dense_kw(kw)
    names = kw.get("extras", ())
    mx, mp = magnitudes(case, dense)

    # forward
    res = cross_entropy_topk(x, idx, prob, rest=rest, **kw)
    want = softce.cross_entropy(x, dense, **kw)
    loss, wloss = (res[0], want[0]) if names else (res, want)
    chk.expect("loss dtype/shape", loss.dtype == x.dtype and loss.shape == wloss.shape, text)
    chk.compare("forward.loss", loss, wloss, rt, text)
    if names:
        chk.expect("extras keys", set(res[1]) == set(names), text)
        for n in names:
            if n in ("lse", "z_loss"):
                chk.compare(f"extras.{n}", res[1][n], want[1][n], rt, text)
            else:
                chk.expect(f"extras.{n}", np.array_equal(res[1][n], want[1][n]), text)

    # fused
    res = cross_entropy_topk_forward_backward(x, idx, prob, rest=rest, grad_out=g, **kw)
    want = softce.cross_entropy_forward_backward(x, dense, grad_out=g, **kw)
    chk.compare("forward_backward.loss", res[0], want[0], rt, text)
    chk.expect("grad dtype", res[1].dtype == x.dtype and res[1].shape == x.shape, text)
    chk.compare("forward_backward.grad", res[1], want[1], rt, text, mx)
    if names:
        for n in names:
            if n in ("lse", "z_loss"):
                chk.compare(f"fb.extras.{n}", res[2][n], want[2][n], rt, text)
            else:
                chk.expect(f"fb.extras.{n}", np.array_equal(res[2][n], want[2][n]), text)
    if case["in_place"]:
        xc = x.copy()
        res2 = cross_entropy_topk_forward_backward(xc, idx, prob, rest=rest, grad_out=g,
                                                   out=xc, **dense_kw(kw))
        chk.expect("in place returns out", res2[1] is xc, text)
        chk.compare("in_place.grad", xc, want[1], rt, text, mx)
        chk.compare("in_place.loss", res2[0], want[0], rt, text)

    # separate backward, with grad_prob
    gx, gp = cross_entropy_topk_backward(x, idx, prob, g, rest=rest, prob_grad=True, **dkw)
    wgx, wgt = softce.cross_entropy_backward(x, dense, g, target_grad=True, **dkw)
    chk.compare("backward.grad_input", gx, wgx, rt, text, mx)
    chk.expect("grad_prob dtype/shape", gp.dtype == prob.dtype and gp.shape == prob.shape,
               text)
    rtp = max(rt, RTOL[prob.dtype])  # grad_prob is rounded to the probabilities' dtype
    chk.compare("backward.grad_prob", gp, chain_grad_prob(wgt, idx, C, rest, nd), rtp, text,
                mp)
    gx_only = cross_entropy_topk_backward(x, idx, prob, g, rest=rest, **dkw)
    chk.expect("backward without grad_prob", np.array_equal(gx_only, gx, equal_nan=True), text)

    # PyTorch, 1.0 options only (an empty mean is NaN in both; torch needs elements)
    if not case["extended"] and x.size:
        tl, tgx, tgt = torch_reference(x, dense, kw, g)
        rtt = RTOL_TORCH[x.dtype]
        chk.compare("torch.loss", loss, tl, rtt, text)
        chk.compare("torch.grad_input", res[1], tgx, rtt, text, mx)
        chk.compare("torch.grad_prob", gp, chain_grad_prob(tgt, idx, C, rest, nd),
                    max(rtt, RTOL_TORCH[prob.dtype]), text, mp)
        return "torch"
    return None


class SweepTest(unittest.TestCase):
    def test_sweep(self):
        rng = np.random.default_rng(SEED)
        chk = Failures()
        stats = {"torch": 0, "uniform": 0, "dup": 0, "kdim": 0, "k0": 0, "kc": 0}
        for n in range(N_CASES):
            case = draw_case(rng)
            text = f"#{n} {describe(case)}"
            try:
                if run_case(chk, case, text) == "torch":
                    stats["torch"] += 1
            except Exception as e:  # an unexpected error is a failure of this case
                chk.items.append(f"exception {e!r} [{text}]")
            stats["uniform"] += case["rest"] == "uniform"
            stats["dup"] += case["K"] > case["C"]
            stats["kdim"] += len(case["xshape"]) > 2
            stats["k0"] += case["K"] == 0
            stats["kc"] += case["K"] == case["C"]
        print(f"\ntopk sweep: {N_CASES} cases {stats}, {chk.checks} checks, "
              f"{len(chk.items)} failures, SOFTCE_FORCE_ISA="
              f"{os.environ.get('SOFTCE_FORCE_ISA', '(unset)')}")
        self.assertEqual(chk.items[:int(os.environ.get("SOFTCE_TOPK_SHOW", "20"))], [])

    def test_finite_differences(self):
        """grad_prob of f64 cases (every option, both rests) against central differences."""
        rng = np.random.default_rng(SEED + 1)
        chk = Failures()
        done = 0
        while done < 60:
            case = draw_case(rng)
            if case["x"].dtype != np.float64 or case["prob"].size == 0:
                continue
            case["prob"] = case["prob"].astype(np.float64)
            kw = case["kw"]
            text = f"fd {describe(case)}"
            _, gp = cross_entropy_topk_backward(case["x"], case["idx"], case["prob"],
                                                case["grad"], rest=case["rest"],
                                                prob_grad=True, **dense_kw(kw))
            chk.compare("fd.grad_prob", gp, finite_difference_grad_prob(case), 1e-6, text)
            done += 1
        self.assertEqual(chk.items[:20], [])


class SemanticsTest(unittest.TestCase):
    """Hand-checked values of the definition."""

    def setUp(self):
        self.x = np.array([[1.0, -2.0, 0.5, 3.0], [0.0, 0.25, -1.0, 2.0]])
        self.logp = self.x - np.log(np.exp(self.x).sum(axis=1, keepdims=True))

    def test_ignore_and_uniform(self):
        idx = np.array([[3, 0], [1, 1]])  # row 1 lists class 1 twice
        prob = np.array([[0.6, 0.1], [0.2, 0.3]])
        lp = self.logp
        want_ignore = -(0.6 * lp[0, 3] + 0.1 * lp[0, 0] + 0.5 * lp[1, 1])
        self.assertAlmostEqual(float(cross_entropy_topk(self.x, idx, prob, reduction="sum")),
                               want_ignore, places=12)
        want_uniform = want_ignore - 0.15 * (lp[0, 1] + lp[0, 2]) - (0.5 / 3) * (
            lp[1, 0] + lp[1, 2] + lp[1, 3])
        got = cross_entropy_topk(self.x, idx, prob, reduction="sum", rest="uniform")
        self.assertAlmostEqual(float(got), want_uniform, places=12)
        # d/d prob[0][0] with uniform rest: -logp[0,0] + (1/2)(logp[0,1] + logp[0,2])
        _, gp = cross_entropy_topk_backward(self.x, idx, prob, reduction="sum", rest="uniform",
                                            prob_grad=True)
        self.assertAlmostEqual(gp[0, 1], -lp[0, 0] + 0.5 * (lp[0, 1] + lp[0, 2]), places=12)
        self.assertAlmostEqual(gp[1, 0], gp[1, 1], places=15)  # duplicates: the same gradient

    def test_every_class_listed(self):
        """K = C with rest uniform: nothing is left to spread (the share does not apply)."""
        idx = np.array([[0, 1, 2, 3], [3, 2, 1, 0]])
        prob = np.array([[0.1, 0.2, 0.3, 0.2], [0.25, 0.25, 0.25, 0.25]])
        a = cross_entropy_topk(self.x, idx, prob, rest="uniform")
        b = cross_entropy_topk(self.x, idx, prob, rest="ignore")
        self.assertEqual(float(a), float(b))
        _, ga = cross_entropy_topk_backward(self.x, idx, prob, rest="uniform", prob_grad=True)
        self.assertTrue(np.allclose(ga, -np.take_along_axis(self.logp, idx, 1) / 2,
                                    rtol=1e-13, atol=0))

    def test_k_zero(self):
        e = np.zeros((2, 0), np.int64)
        p = np.zeros((2, 0))
        self.assertEqual(float(cross_entropy_topk(self.x, e, p)), 0.0)
        want = -self.logp.mean(axis=1).mean()
        self.assertAlmostEqual(float(cross_entropy_topk(self.x, e, p, rest="uniform")), want,
                               places=12)
        g, gp = cross_entropy_topk_backward(self.x, e, p, rest="uniform", prob_grad=True)
        self.assertEqual(gp.shape, (2, 0))

    def test_mass_above_one_uniform(self):
        """A negative remaining mass is spread as it is (no clamping), like the dense target."""
        idx = np.array([[0], [1]])
        prob = np.array([[1.3], [0.9]])
        dense = dense_target(idx, prob, 4, "uniform", self.x.shape, np.float64)
        self.assertLess(dense[0, 1], 0.0)
        self.assertAlmostEqual(float(cross_entropy_topk(self.x, idx, prob, rest="uniform")),
                               float(softce.cross_entropy(self.x, dense)), places=12)

    def test_threads_bitwise(self):
        rng = np.random.default_rng(3)
        x = rng.normal(size=(600, 200)).astype(np.float32)
        idx = rng.integers(0, 200, size=(600, 16))
        prob = rng.uniform(0, 0.06, size=(600, 16)).astype(np.float32)
        ref = cross_entropy_topk_forward_backward(x, idx, prob, rest="uniform", num_threads=1)
        for nt in (2, 3):
            got = cross_entropy_topk_forward_backward(x, idx, prob, rest="uniform",
                                                      num_threads=nt)
            self.assertEqual(got[0].tobytes(), ref[0].tobytes())
            self.assertEqual(got[1].tobytes(), ref[1].tobytes())

    def test_torch_inputs(self):
        """DLPack inputs (torch tensors) are accepted like numpy arrays."""
        x = torch.tensor(self.x)
        idx = torch.tensor([[3, 0], [1, 2]])
        prob = torch.tensor([[0.6, 0.1], [0.2, 0.3]])
        got = cross_entropy_topk(x, idx, prob, rest="uniform")
        want = cross_entropy_topk(self.x, idx.numpy(), prob.numpy(), rest="uniform")
        self.assertEqual(float(got), float(want))


class BadInputTest(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(11)
        self.x = rng.normal(size=(3, 5, 2)).astype(np.float32)  # element shape (3, 2), C = 5
        self.idx = rng.integers(0, 5, size=(3, 2, 4)).astype(np.int64)
        self.prob = rng.uniform(0, 0.2, size=(3, 2, 4)).astype(np.float32)

    def assert_fails(self, name, detail, fn, *args, **kw):
        with self.assertRaises(softce.SoftceError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.name, name, str(cm.exception))
        self.assertEqual(cm.exception.detail, detail)

    def all_calls(self, name, detail, x, idx, prob, **kw):
        """Every entry point fails alike, and the out= array is untouched."""
        sentinel = np.full(x.shape, 7.5, np.float32) if x.ndim else None
        for fn, extra in ((cross_entropy_topk, {}),
                          (cross_entropy_topk_forward_backward, {"out": sentinel}),
                          (cross_entropy_topk_backward, {"out": sentinel, "prob_grad": True})):
            if "grad_output" in kw and fn is not cross_entropy_topk_backward:
                continue
            self.assert_fails(name, detail, fn, x, idx, prob, **kw, **extra)
            if sentinel is not None:
                self.assertTrue((sentinel == 7.5).all(), f"{fn.__name__} wrote out=")

    def test_index_out_of_range(self):
        bad = self.idx.copy()
        bad[1, 1, 2] = 5  # element (1, 1) = flat element 3, entry 2
        bad[2, 0, 0] = -1  # later in row-major order: not the one reported
        self.all_calls("SOFTCE_ERROR_TARGET", "topk_index[3][2] = 5 is outside [0, 5)",
                       self.x, bad, self.prob)
        bad = self.idx.astype(np.int32)
        bad[0, 0, 3] = -7
        self.all_calls("SOFTCE_ERROR_TARGET", "topk_index[0][3] = -7 is outside [0, 5)",
                       self.x, bad, self.prob, rest="uniform")

    def test_out_of_range_in_masked_element(self):
        """A masked element (sample weight 0) is still checked: the whole call fails."""
        bad = self.idx.copy()
        bad[0, 1, 0] = 9
        sw = np.ones((3, 2), np.float32)
        sw[0, 1] = 0.0
        self.all_calls("SOFTCE_ERROR_TARGET", "topk_index[1][0] = 9 is outside [0, 5)",
                       self.x, bad, self.prob, sample_weight=sw)

    def test_shapes(self):
        self.all_calls("SOFTCE_ERROR_SHAPE",
                       "topk_index: ndim = 2, expected 3 (element shape + (K))",
                       self.x, self.idx[:, 0], self.prob[:, 0])
        self.all_calls("SOFTCE_ERROR_SHAPE",
                       "topk_index: shape[1] = 1, expected 2 (element shape + (K))",
                       self.x, self.idx[:, :1], self.prob[:, :1])
        self.all_calls("SOFTCE_ERROR_SHAPE",
                       "topk_prob: shape[2] = 3, expected 4 (the shape of topk_index)",
                       self.x, self.idx, self.prob[..., :3])
        self.all_calls("SOFTCE_ERROR_SHAPE",
                       "topk_prob: ndim = 2, expected 3 (the shape of topk_index)",
                       self.x, self.idx, self.prob[:, :, 0])
        # a dense (logits-shaped) target is not a top-k target
        self.all_calls("SOFTCE_ERROR_SHAPE",
                       "topk_index: shape[1] = 5, expected 2 (element shape + (K))",
                       self.x, np.zeros(self.x.shape, np.int64), self.x)
        self.all_calls("SOFTCE_ERROR_SHAPE",
                       "grad_loss: ndim = 1, expected 0 (0-d for mean/sum)",
                       self.x, self.idx, self.prob, grad_output=np.ones(3, np.float32))
        self.assert_fails("SOFTCE_ERROR_SHAPE",
                          "grad_logits: ndim = 2, expected 3 (logits shape)",
                          cross_entropy_topk_forward_backward, self.x, self.idx, self.prob,
                          out=np.zeros((3, 5), np.float32))

    def test_dtypes(self):
        self.all_calls("SOFTCE_ERROR_DTYPE",
                       "topk_index must be an integer array, not float32 (shape (3, 2, 4))",
                       self.x, self.idx.astype(np.float32), self.prob)
        self.all_calls("SOFTCE_ERROR_DTYPE",
                       "topk_index must be an integer array, not bool (shape (3, 2, 4))",
                       self.x, self.idx > 2, self.prob)
        self.all_calls("SOFTCE_ERROR_DTYPE",
                       "topk_prob must be float32, float64, float16 or bfloat16, not int64 "
                       "(shape (3, 2, 4))", self.x, self.idx, self.idx)
        self.all_calls("SOFTCE_ERROR_DTYPE",
                       "input must be float32, float64, float16 or bfloat16, not int64",
                       self.x.astype(np.int64), self.idx, self.prob)

    def test_rest(self):
        for rest in ("Uniform", "", None, 1, "rest"):
            self.all_calls("SOFTCE_ERROR_OPTION",
                           f"rest = {rest!r} is not one of 'ignore', 'uniform'",
                           self.x, self.idx, self.prob, rest=rest)

    def test_options(self):
        self.all_calls("SOFTCE_ERROR_OPTION", "reduction 'avg' is not one of 'mean', 'sum', "
                       "'none'", self.x, self.idx, self.prob, reduction="avg")
        self.all_calls("SOFTCE_ERROR_OPTION",
                       "options: label_smoothing = 1.5 is outside [0, 1]",
                       self.x, self.idx, self.prob, label_smoothing=1.5)

    def test_empty_mean_error(self):
        e = np.zeros((0, 5))
        self.assert_fails("SOFTCE_ERROR_EMPTY_MEAN",
                          "the mean's denominator is 0 (0 elements) and empty = ERROR",
                          cross_entropy_topk, e, np.zeros((0, 2), np.int64), np.zeros((0, 2)),
                          empty="error")

    def test_no_output_written_on_error_in_place(self):
        """In place (out = input): a failing call leaves the logits as they were."""
        x = self.x.copy()
        bad = self.idx.copy()
        bad[2, 1, 3] = 100
        with self.assertRaises(softce.SoftceError):
            cross_entropy_topk_forward_backward(x, bad, self.prob, out=x)
        self.assertTrue(np.array_equal(x, self.x))


if __name__ == "__main__":
    unittest.main(verbosity=1)
