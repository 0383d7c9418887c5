#!/usr/bin/python3
"""softce.torch against torch.nn.functional.cross_entropy (torch 1.13): values, gradients,
gradcheck (f64, hard and soft targets, every option), the three call paths, zero-copy
descriptors, in place, CrossEntropyLoss, fallbacks and errors.

Exit status: 0 pass, 1 fail, 77 skipped (numpy or torch missing).
"""

import itertools
import math
import sys
import unittest

try:
    import numpy as np  # noqa: F401  (the binding needs it)
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print(f"SKIPPED: {e}")
    sys.exit(77)

import softce
import softce.torch as st
from torch_dropin_util import LAYOUTS, Recorder, close, make_input, make_target

DTYPES = {torch.float64: 1e-12, torch.float32: 2e-6, torch.bfloat16: 2e-2, torch.float16: 2e-3}


def reference(x, t, soft, **kw):
    """F.cross_entropy in float64 on the same values, with gradients (input, soft target)."""
    x64 = x.detach().double().requires_grad_()
    t64 = t.detach().double().requires_grad_() if soft else t
    if kw.get("weight") is not None:
        kw = dict(kw, weight=kw["weight"].double())
    loss = F.cross_entropy(x64, t64, **kw)
    return x64, t64, loss


class ParityTests(unittest.TestCase):
    """Loss and gradients equal F.cross_entropy for every dtype, layout and option."""

    def run_case(self, shape, dtype, soft, layout, weight, ignore, eps, reduction, gen):
        c = shape[1] if len(shape) > 1 else shape[0]
        x = make_input(shape, dtype, layout, gen).requires_grad_()
        t = make_target(shape, soft, ignore, gen)
        if soft:
            t = t.to(dtype).requires_grad_(bool(gen.integers(2)))
        w = torch.rand(c, generator=torch.Generator().manual_seed(c)) + 0.5 if weight else None
        kw = dict(weight=w, reduction=reduction, label_smoothing=eps)
        if not soft:
            kw["ignore_index"] = ignore
        text = f"{shape} {dtype} soft={soft} {layout} {kw}"
        x64, t64, want = reference(x, t, soft, **kw)
        got = st.cross_entropy(x, t, **kw)
        self.assertEqual((got.dtype, got.shape), (dtype, want.shape), text)
        tol = DTYPES[dtype]
        close(self, got, want, tol, text)
        g = torch.rand(want.shape, dtype=torch.float64) + 0.5
        inputs = (x, t) if soft and t.requires_grad else (x,)
        grads = torch.autograd.grad(got, inputs, g.to(dtype))
        wants = torch.autograd.grad(want, (x64, t64)[:len(inputs)], g)
        for name, a, b in zip(("grad_input", "grad_target"), grads, wants):
            self.assertEqual(a.dtype, dtype, text)
            close(self, a, b, 4 * tol, f"{name} {text}")

    def test_grid(self):
        gen = np.random.default_rng(5)
        shapes = [(7,), (6, 5), (3, 4, 5), (2, 3, 2, 3)]
        count = 0
        for shape, dtype, soft in itertools.product(shapes, DTYPES, (False, True)):
            for layout in LAYOUTS:
                if layout == "channels_last" and len(shape) < 3:
                    continue
                for _ in range(3):
                    self.run_case(shape, dtype, soft, layout, bool(gen.integers(2)),
                                  int(gen.choice([-100, 1, 99])), float(gen.choice([0, 0.25])),
                                  str(gen.choice(["mean", "sum", "none"])), gen)
                    count += 1
        self.assertGreater(count, 300)

    def test_native_torch_dtypes_equal(self):
        """Same dtype, same answer as torch itself (f32, f64, bf16)."""
        gen = torch.Generator().manual_seed(1)
        for dtype in (torch.float32, torch.float64, torch.bfloat16):
            x = torch.randn(8, 11, generator=gen).to(dtype)
            t = torch.randint(0, 11, (8,), generator=gen)
            tol = DTYPES[dtype]  # bf16: torch rounds its intermediates to bf16 too
            close(self, st.cross_entropy(x, t), F.cross_entropy(x, t), tol)

    def test_edge_cases(self):
        x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
        t = torch.full((4,), -100)
        for eps in (0.0, 0.2):
            loss = st.cross_entropy(x, t, label_smoothing=eps)
            self.assertTrue(torch.isnan(loss))
            (g,) = torch.autograd.grad(loss, x)
            self.assertTrue(bool((g == 0).all()))
        self.assertEqual(float(st.cross_entropy(x, t, reduction="sum")), 0.0)
        empty = st.cross_entropy(x[:0], t[:0], reduction="none")
        self.assertEqual(empty.shape, (0,))
        big = torch.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
        loss = st.cross_entropy(big, torch.tensor([1]))
        close(self, loss, F.cross_entropy(big.double(), torch.tensor([1])), 1e-6)


class GradcheckTests(unittest.TestCase):
    """torch.autograd.gradcheck in float64 for every option, hard and soft targets."""

    OPTIONS = list(itertools.product(("mean", "sum", "none"), (False, True), (0.0, 0.3)))

    def setUp(self):
        gen = torch.Generator().manual_seed(11)
        self.x2 = torch.randn(3, 4, dtype=torch.float64, generator=gen)
        self.xk = torch.randn(2, 3, 2, dtype=torch.float64, generator=gen)
        self.w = torch.rand(4, dtype=torch.float64, generator=gen) + 0.5
        self.wk = self.w[:3]

    def check(self, fn, *inputs):
        self.assertTrue(torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-8, rtol=1e-6))

    def test_hard(self):
        cases = [(self.x2, torch.tensor([0, 1, 3]), self.w),
                 (self.xk, torch.tensor([[0, 1], [2, 1]]), self.wk)]
        for (x, t, w), (red, weighted, eps), ignore in itertools.product(
                cases, self.OPTIONS, (-100, 1)):
            kw = dict(weight=w if weighted else None, ignore_index=ignore, reduction=red,
                      label_smoothing=eps)
            with self.subTest(shape=tuple(x.shape), **kw):
                self.check(lambda a: st.cross_entropy(a, t, **kw), x.clone().requires_grad_())

    def test_soft(self):
        for x, w in ((self.x2, self.w), (self.xk, self.wk)):
            q = torch.softmax(torch.randn_like(x), 1)
            q[0] = q[0] * 1.5  # rows need not sum to 1
            for red, weighted, eps in self.OPTIONS:
                kw = dict(weight=w if weighted else None, reduction=red, label_smoothing=eps)
                with self.subTest(shape=tuple(x.shape), **kw):
                    fn = lambda a, b: st.cross_entropy(a, b, **kw)  # noqa: E731
                    self.check(fn, x.clone().requires_grad_(), q.clone().requires_grad_())
                    self.check(lambda a: st.cross_entropy(a, q, **kw),
                               x.clone().requires_grad_())

    def test_inplace(self):
        t = torch.tensor([0, 1, 3])
        for red, weighted, eps in self.OPTIONS:
            kw = dict(weight=self.w if weighted else None, reduction=red, label_smoothing=eps)
            self.check(lambda a: st.cross_entropy(a * 1.0, t, inplace=True, **kw),
                       self.x2.clone().requires_grad_())


class PathTests(unittest.TestCase):
    """Which entry points run, and that they get the tensors' own memory."""

    def setUp(self):
        self.rec = Recorder()
        self.addCleanup(self.rec.uninstall)
        self.x = torch.randn(6, 5, dtype=torch.float64)
        self.t = torch.tensor([0, 4, 2, 2, 1, 3])

    def test_forward_only(self):
        with torch.no_grad():
            st.cross_entropy(self.x.requires_grad_(), self.t)
        self.assertEqual(self.rec.names(), ["softce_forward"])
        self.assertIsNone(self.rec.calls[0][1][4])  # no lse

    def test_fused(self):
        x = self.x.clone().requires_grad_()
        loss = st.cross_entropy(x, self.t)
        self.assertEqual(self.rec.names(), ["softce_forward_backward"])
        (loss * 3).backward()
        self.assertEqual(self.rec.names(), ["softce_forward_backward"])  # backward: no call
        x2 = self.x.clone().requires_grad_()
        F.cross_entropy(x2, self.t).mul(3).backward()
        close(self, x.grad, x2.grad, 1e-14)

    def test_target_grad_reuses_lse(self):
        q = torch.softmax(torch.randn(6, 5, dtype=torch.float64), 1).requires_grad_()
        loss = st.cross_entropy(self.x, q)
        loss.backward()
        self.assertEqual(self.rec.names(), ["softce_forward", "softce_backward"])
        fwd, bwd = self.rec.calls[0][1], self.rec.calls[1][1]
        self.assertIsNotNone(fwd[4])
        self.assertEqual(bwd[4][0], fwd[4][0])  # the lse written by forward
        self.assertIsNone(bwd[5])  # no grad_input: the logits do not require grad
        self.assertIsNotNone(bwd[6])

    def test_zero_copy_strided(self):
        base = torch.randn(4, 6, 5, 3)
        cases = {"transposed": (base[:, :, 0, 0].t(), torch.tensor([0, 1, 2, 3, 0, 1])),
                 "channels_last": (base.permute(0, 3, 1, 2), torch.randint(0, 3, (4, 6, 5))),
                 "sliced": (base[::2, :, 1:4, 0], torch.randint(0, 6, (2, 3))),
                 "expanded_target": (base[0, :, :, 0], torch.tensor(2).expand(6))}
        for name, (x, t) in cases.items():
            self.rec.calls.clear()
            for grad in (False, True):
                st.cross_entropy(x.detach().requires_grad_(grad), t)
            for call in self.rec.calls:
                x_d, t_d = call[1][1], call[1][2]
                self.assertEqual(x_d[0], x.data_ptr(), name)
                self.assertEqual(t_d[0], t.data_ptr(), name)
                self.assertEqual(x_d[2], tuple(0 if n == 1 else s
                                               for n, s in zip(x.shape, x.stride())), name)

    def test_inplace_overwrites_logits(self):
        h = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
        logits = h * 2
        ptr = logits.data_ptr()
        loss = st.cross_entropy(logits, self.t, inplace=True)
        fb = self.rec.calls[-1][1]
        self.assertEqual((fb[1][0], fb[5][0]), (ptr, ptr))  # gradient written over logits
        ref = (h * 2).detach().requires_grad_()
        (want,) = torch.autograd.grad(F.cross_entropy(ref, self.t), ref)
        close(self, logits.detach(), want, 1e-14)  # the logits now hold their gradient
        loss.backward()
        h2 = h.detach().clone().requires_grad_()
        F.cross_entropy(h2 * 2, self.t).backward()
        close(self, h.grad, h2.grad, 1e-14)

    def test_inplace_falls_back_when_not_allowed(self):
        leaf = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
        view = (leaf * 2).view(3, 2, 5).view(6, 5)
        for x in (leaf, view):
            before = x.detach().clone()
            st.cross_entropy(x, self.t, inplace=True).backward()
            self.assertTrue(torch.equal(x.detach(), before))  # left alone

    def test_inplace_misuse_is_loud(self):
        h = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
        e = torch.exp(h)  # exp keeps its output for its backward
        with self.assertRaises(RuntimeError):
            st.cross_entropy(e, self.t, inplace=True).backward()
        logits = h * 2
        loss = st.cross_entropy(logits, self.t, inplace=True)
        with self.assertRaisesRegex(RuntimeError, "inplace"):
            (loss + logits.sum()).backward()

    def test_retain_graph_and_scaling(self):
        x = self.x.clone().requires_grad_()
        loss = st.cross_entropy(x, self.t, reduction="none")
        g = torch.rand(6, dtype=torch.float64)
        (g1,) = torch.autograd.grad(loss, x, g, retain_graph=True)
        (g2,) = torch.autograd.grad(loss, x, g)
        self.assertTrue(torch.equal(g1, g2))
        x2 = self.x.clone().requires_grad_()
        (want,) = torch.autograd.grad(F.cross_entropy(x2, self.t, reduction="none"), x2, g)
        close(self, g1, want, 1e-14)

    def test_negation_bit(self):
        """Tensors with the lazy negation bit (torch._neg_view: their memory holds the negated
        values), as operands and as the upstream gradient of each path, read as their values."""
        neg = torch._neg_view
        gen = torch.Generator().manual_seed(5)
        x = torch.randn(6, 5, generator=gen, dtype=torch.float64)
        q = torch.softmax(torch.randn(6, 5, generator=gen, dtype=torch.float64), 1)
        w = torch.rand(5, generator=gen, dtype=torch.float64) + 0.5
        g = torch.rand(6, generator=gen, dtype=torch.float64) + 0.5
        for soft, target_grad in ((False, False), (True, False), (True, True)):
            text = f"soft={soft} target_grad={target_grad}"
            xs, xr = neg(-x).requires_grad_(), x.clone().requires_grad_()
            ts = tr = self.t
            if soft:
                ts = neg(-q).requires_grad_(target_grad)
                tr = q.clone().requires_grad_(target_grad)
            got = st.cross_entropy(xs, ts, neg(-w), reduction="none")
            want = F.cross_entropy(xr, tr, w, reduction="none")
            close(self, got, want, 1e-14, text)
            inputs = (xs, ts) if target_grad else (xs,)
            grads = torch.autograd.grad(got, inputs, neg(g))
            wants = torch.autograd.grad(want, (xr, tr)[:len(inputs)], -g)
            for name, a, b in zip(("grad_input", "grad_target"), grads, wants):
                close(self, a, b, 1e-14, f"{name} {text}")


class AccuracyTests(unittest.TestCase):
    """docs/numerics.md: its contract (gradients within 1e-5 of their largest magnitude, plus
    the output's rounding) on the paths that keep state between forward and backward, and a
    deliberate difference from PyTorch."""

    def assert_normwise(self, got, want, tol, text):
        err = float((got.double() - want).abs().max() / want.abs().max())
        self.assertLessEqual(err, tol, text)

    def test_target_grad_large_logits(self):
        # the log-sum-exp kept for the backward must not be rounded to float32 (|lse| 2^-24
        # in every log-probability: 3.8e-4 of the gradient here)
        gen = torch.Generator().manual_seed(11)
        x = 5000 + torch.randn(8, 2, generator=gen)
        p = torch.rand(8, 2, generator=gen)
        xs, ps = x.clone().requires_grad_(), p.clone().requires_grad_()
        st.cross_entropy(xs, ps).backward()
        xr, pr = x.double().requires_grad_(), p.double().requires_grad_()
        F.cross_entropy(xr, pr).backward()
        self.assert_normwise(xs.grad, xr.grad, 1e-5, "grad_input")
        self.assert_normwise(ps.grad, pr.grad, 1e-5, "grad_target")

    def test_float16_loss_scaling(self):
        # a mean over 100000 elements: gradients below 1e-5 at grad_output 1 (float16 subnormals);
        # with a loss scale of 2^15 they are normal and must come out so
        gen = torch.Generator().manual_seed(12)
        x = torch.randn(100000, 10, generator=gen).half()
        t = torch.randint(0, 10, (100000,), generator=gen)
        for scale in (1.0, 2.0**15):
            for inplace in (False, True):
                xs = x.clone().requires_grad_()
                xin = xs * 1 if inplace else xs  # a non-leaf for inplace=True
                st.cross_entropy(xin, t, inplace=inplace).backward(
                    torch.tensor(scale, dtype=torch.float16))
                xr = x.double().requires_grad_()
                F.cross_entropy(xr, t).backward(torch.tensor(scale, dtype=torch.float64))
                # float16 rounding of the largest entry, and one subnormal step at scale 1
                tol = 2.0**-11 + (2.0**-24 / float(xr.grad.abs().max()) if scale == 1 else 0)
                self.assert_normwise(xs.grad, xr.grad, tol, f"scale {scale} inplace {inplace}")

    def test_smoothing_zero_weight_neginf(self):
        # docs/numerics.md, difference 1: a smoothing term of a class with weight 0 at a -inf
        # logit adds nothing (PyTorch's loss is NaN; its gradient is finite and the same)
        x = torch.tensor([[2.0, float("-inf"), 0.5]], dtype=torch.float64)
        t, w, eps = torch.tensor([0]), torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64), 0.2
        lse = math.log(math.exp(2.0) + math.exp(0.5))
        q0, q2 = 1 - eps + eps / 3, eps / 3
        want = q0 * (lse - 2.0) + q2 * (lse - 0.5)  # mean: D = w[t] = 1
        xs, xr = x.clone().requires_grad_(), x.clone().requires_grad_()
        got = st.cross_entropy(xs, t, weight=w, label_smoothing=eps)
        self.assertAlmostEqual(got.item(), want, delta=1e-14)
        got.backward()
        ref = F.cross_entropy(xr, t, weight=w, label_smoothing=eps)
        self.assertTrue(math.isnan(ref.item()))
        ref.backward()
        close(self, xs.grad, xr.grad, 1e-14, "grad_input")


class ModuleAndErrorTests(unittest.TestCase):
    def test_module(self):
        w = torch.rand(5) + 0.5
        ours = st.CrossEntropyLoss(weight=w, ignore_index=2, label_smoothing=0.1)
        theirs = torch.nn.CrossEntropyLoss(weight=w, ignore_index=2, label_smoothing=0.1)
        self.assertIsInstance(ours, torch.nn.CrossEntropyLoss)
        self.assertEqual(ours.state_dict().keys(), theirs.state_dict().keys())
        x, t = torch.randn(7, 5), torch.tensor([0, 1, 2, 3, 4, 2, 1])
        close(self, ours(x, t), theirs(x, t), 2e-6)
        legacy = st.CrossEntropyLoss(size_average=False)
        self.assertEqual(legacy.reduction, "sum")
        close(self, legacy(x, t), F.cross_entropy(x, t, reduction="sum"), 2e-6)
        close(self, st.cross_entropy(x, t, None, False), legacy(x, t), 0.0)  # positional

    def test_fallbacks(self):
        meta = st.cross_entropy(torch.randn(4, 5, device="meta"),
                                torch.zeros(4, dtype=torch.long, device="meta"))
        self.assertEqual(meta.device.type, "meta")
        x9 = torch.randn((2, 3) + (1,) * 7)
        t9 = torch.zeros((2,) + (1,) * 7, dtype=torch.long)
        close(self, st.cross_entropy(x9, t9), F.cross_entropy(x9, t9), 1e-6)
        w = (torch.rand(5) + 0.5).requires_grad_()
        x, q = torch.randn(3, 5), torch.softmax(torch.randn(3, 5), 1)
        st.cross_entropy(x, q, w).backward()  # torch computes the weight's gradient
        self.assertIsNotNone(w.grad)
        with self.assertRaises(RuntimeError):
            st.cross_entropy(torch.zeros(3, 5, dtype=torch.long), torch.tensor([0, 1, 2]))

    def test_zero_classes_left_to_torch(self):
        # libsoftce refuses a class axis of size 0; PyTorch has results for it (NaN or 0).
        cases = [(torch.empty(0, 0), torch.empty(0, dtype=torch.long)),
                 (torch.empty(0, 0), torch.empty(0, 0)),
                 (torch.empty(3, 0), torch.empty(3, 0)),
                 (torch.empty(2, 0, 4), torch.empty(2, 0, 4)),
                 (torch.empty(0), torch.empty(0))]
        for x, t in cases:
            for reduction in ("mean", "sum", "none"):
                with self.subTest(shape=tuple(x.shape), reduction=reduction):
                    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
                    got = st.cross_entropy(xa, t, reduction=reduction)
                    want = F.cross_entropy(xb, t, reduction=reduction)
                    self.assertEqual(got.shape, want.shape)
                    torch.testing.assert_close(got, want, equal_nan=True)
                    got.sum().backward()
                    want.sum().backward()
                    self.assertEqual(xa.grad.shape, xb.grad.shape)
        with self.assertRaises((IndexError, RuntimeError)):  # torch: an index with no class
            st.cross_entropy(torch.empty(3, 0), torch.zeros(3, dtype=torch.long))
        for kw in ({"z_loss": 1e-4}, {"extras": ("lse",)}):  # 1.1: libsoftce's own error
            with self.assertRaises(softce.SoftceError) as cm:
                st.cross_entropy(torch.empty(3, 0), torch.empty(3, 0), **kw)
            self.assertEqual(cm.exception.name, "SOFTCE_ERROR_SHAPE")

    def test_errors(self):
        x, t = torch.randn(3, 5), torch.tensor([0, 7, 1])
        with self.assertRaises(softce.SoftceError) as cm:
            st.cross_entropy(x, t)
        self.assertEqual(cm.exception.name, "SOFTCE_ERROR_TARGET")
        self.assertIn("target[1] = 7 is outside [0, 5)", cm.exception.detail)
        with self.assertRaises(ValueError):
            st.cross_entropy(x, t, reduction="avg")
        for eps in (-0.1, 1.5):
            with self.assertRaises(softce.SoftceError):
                st.cross_entropy(x, torch.tensor([0, 1, 2]), label_smoothing=eps)
        with self.assertRaises(softce.SoftceError):  # as torch: no ignore_index >= 0 for soft
            st.cross_entropy(x, torch.rand(3, 5), ignore_index=0)
        with self.assertRaises(softce.SoftceError):
            st.cross_entropy(x, torch.tensor([0.0, 1.0, 2.0]))
        with self.assertRaises(softce.SoftceError):
            st.cross_entropy(x, torch.tensor([0, 1]))


if __name__ == "__main__":
    torch.set_num_threads(1)
    result = unittest.main(exit=False, verbosity=1).result
    sys.exit(0 if result.wasSuccessful() else 1)
