#!/usr/bin/python3
"""Tests of the softce Python binding: API surface, errors, copy rules, lookup order.

Values are checked against a float64 numpy reference written here. Exit status: 0 pass,
1 fail, 77 skipped (numpy missing). Run with SOFTCE_LIBRARY=<path to libsoftce.so> and
PYTHONPATH=bindings/python (CTest sets both).
"""

import importlib.util
import os
import pickle
import sys
import unittest

try:
    import numpy as np
except ImportError:
    print("SKIPPED: numpy is not importable")
    sys.exit(77)

import softce
from softce import _tensor

from binding_lookup import LookupTests  # noqa: F401  (run by unittest.main)


def ref_hard(x, t, weight=None, reduction="mean"):
    """float64 reference for (N, C) logits and class indices, no ignore/smoothing."""
    x = np.asarray(x, np.float64)
    m = x.max(axis=1, keepdims=True)
    y = x - (m + np.log(np.exp(x - m).sum(axis=1, keepdims=True)))
    w = np.ones(x.shape[1]) if weight is None else np.asarray(weight, np.float64)
    wt = w[t]
    per = -wt * y[np.arange(len(t)), t]
    grad = np.exp(y) * wt[:, None]
    grad[np.arange(len(t)), t] -= wt
    if reduction == "mean":
        return per.sum() / wt.sum(), grad / wt.sum()
    if reduction == "sum":
        return per.sum(), grad
    return per, grad


def ref_soft(x, q):
    """float64 reference mean loss and grads for (N, C) logits and soft targets."""
    x = np.asarray(x, np.float64)
    m = x.max(axis=1, keepdims=True)
    y = x - (m + np.log(np.exp(x - m).sum(axis=1, keepdims=True)))
    n = x.shape[0]
    loss = -(q * y).sum() / n
    grad = (np.exp(y) * q.sum(axis=1, keepdims=True) - q) / n
    return loss, grad, -y / n


def close(test, got, want, rtol):
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    test.assertEqual(got.shape, want.shape)
    err = np.max(np.abs(got - want), initial=0.0)
    test.assertLessEqual(err, rtol * max(1.0, np.max(np.abs(want), initial=0.0)))


class ApiTests(unittest.TestCase):
    def setUp(self):
        self.rng = np.random.default_rng(7)
        self.x = self.rng.normal(size=(5, 7))
        self.t = np.array([0, 6, 3, 3, 1])

    def test_surface(self):
        for name in ("cross_entropy", "cross_entropy_forward_backward",
                     "cross_entropy_backward", "log_softmax", "version", "library_path"):
            self.assertTrue(callable(getattr(softce, name)), name)
        self.assertTrue(issubclass(softce.SoftceError, ValueError))
        self.assertEqual(softce.version(), "1.1.0")
        self.assertTrue(softce.__doc__)
        if os.environ.get("SOFTCE_LIBRARY"):
            self.assertEqual(softce.library_path(), os.environ["SOFTCE_LIBRARY"])

    def test_hard_values_and_shapes(self):
        w = self.rng.uniform(0.5, 2.0, size=7)
        for reduction in ("mean", "sum", "none"):
            want, gwant = ref_hard(self.x, self.t, w, reduction)
            got = softce.cross_entropy(self.x, self.t, w, reduction=reduction)
            self.assertEqual(got.dtype, np.float64)
            close(self, got, want, 1e-13)
            loss, grad = softce.cross_entropy_forward_backward(self.x, self.t, w,
                                                               reduction=reduction)
            close(self, loss, want, 1e-13)
            close(self, grad, gwant, 1e-13)
            close(self, softce.cross_entropy_backward(self.x, self.t, None, w,
                                                      reduction=reduction), gwant, 1e-13)
        self.assertEqual(softce.cross_entropy(self.x, self.t).shape, ())
        self.assertEqual(softce.cross_entropy(self.x[0], np.int64(2), reduction="none").shape,
                         ())
        x4 = self.rng.normal(size=(2, 3, 4, 5))
        t4 = self.rng.integers(0, 3, size=(2, 4, 5))
        self.assertEqual(softce.cross_entropy(x4, t4, reduction="none").shape, (2, 4, 5))

    def test_soft_values(self):
        q = self.rng.dirichlet(np.ones(7), size=5)
        loss, grad, gq = ref_soft(self.x, q)
        close(self, softce.cross_entropy(self.x, q), loss, 1e-13)
        g, gt = softce.cross_entropy_backward(self.x, q, target_grad=True)
        close(self, g, grad, 1e-13)
        close(self, gt, gq, 1e-13)

    def test_output_dtypes_follow_input(self):
        for dt, rtol in ((np.float32, 1e-5), (np.float16, 3e-3)):
            x = self.x.astype(dt)
            want, gwant = ref_hard(x, self.t)
            loss, grad = softce.cross_entropy_forward_backward(x, self.t)
            self.assertEqual((loss.dtype, grad.dtype, grad.shape), (dt, dt, x.shape))
            close(self, loss, want, rtol)
            close(self, grad, gwant, rtol)
            self.assertEqual(softce.log_softmax(x).dtype, dt)

    def test_log_softmax(self):
        x = self.rng.normal(size=(3, 4, 2))
        want = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
        close(self, softce.log_softmax(x), want, 1e-13)
        close(self, softce.log_softmax(x[0, :, 0]), want[0, :, 0], 1e-13)

    def test_target_dtype_conversions(self):
        want = softce.cross_entropy(self.x, self.t)
        for dt in (np.int32, np.int16, np.uint8, np.uint64, ">i8"):
            self.assertEqual(softce.cross_entropy(self.x, self.t.astype(dt)), want, dt)
        self.assertEqual(softce.cross_entropy(self.x.tolist(), self.t.tolist()), want)
        close(self, softce.cross_entropy(self.x.astype(">f8"), self.t), want, 0.0)

    def test_grad_out(self):
        _, g1 = softce.cross_entropy_forward_backward(self.x, self.t, grad_out=2.5)
        _, g0 = softce.cross_entropy_forward_backward(self.x, self.t)
        close(self, g1, 2.5 * g0, 1e-14)
        go = self.rng.normal(size=5)
        _, gn = softce.cross_entropy_forward_backward(self.x, self.t, reduction="none",
                                                      grad_out=go)
        _, gref = ref_hard(self.x, self.t, reduction="none")
        close(self, gn, gref * go[:, None], 1e-13)
        _, gs = softce.cross_entropy_forward_backward(self.x, self.t, reduction="none",
                                                      grad_out=3)
        close(self, gs, 3 * gref, 1e-13)
        close(self, softce.cross_entropy_backward(self.x, self.t, go, reduction="none"),
              gref * go[:, None], 1e-13)

    def test_threads_bitwise(self):
        x = self.rng.normal(size=(257, 33)).astype(np.float32)
        t = self.rng.integers(0, 33, size=257)
        runs = [softce.cross_entropy_forward_backward(x, t, num_threads=n) for n in (1, 2, 0)]
        for loss, grad in runs[1:]:
            self.assertEqual(loss.tobytes(), runs[0][0].tobytes())
            self.assertEqual(grad.tobytes(), runs[0][1].tobytes())

    @unittest.skipUnless(importlib.util.find_spec("ml_dtypes"), "ml_dtypes is not installed")
    def test_bfloat16(self):
        import ml_dtypes
        x = self.x.astype(ml_dtypes.bfloat16)
        want, gwant = ref_hard(x.astype(np.float64), self.t)
        loss, grad = softce.cross_entropy_forward_backward(x, self.t)
        self.assertEqual((loss.dtype, grad.dtype), (x.dtype, x.dtype))
        close(self, loss, want, 2e-2)
        close(self, grad, gwant, 2e-2)


class ErrorTests(unittest.TestCase):
    def setUp(self):
        self.x = np.zeros((4, 3))
        self.t = np.array([0, 1, 2, 1])

    def expect(self, name, fn, *args, **kwargs):
        with self.assertRaises(softce.SoftceError) as cm:
            fn(*args, **kwargs)
        e = cm.exception
        self.assertIsInstance(e, ValueError)
        self.assertEqual(e.name, name)
        from softce import _ctypes
        self.assertEqual(e.status, _ctypes.STATUS[name])
        self.assertTrue(e.detail, "empty detail")
        self.assertIn(name, str(e))
        again = pickle.loads(pickle.dumps(e))
        self.assertEqual((again.status, again.name, again.detail), (e.status, name, e.detail))
        return e

    def test_library_errors(self):
        e = self.expect("SOFTCE_ERROR_TARGET", softce.cross_entropy, self.x, [0, 5, 1, 7])
        self.assertEqual(e.status, 10)
        self.assertIn("target[1] = 5 is outside [0, 3)", e.detail)
        self.expect("SOFTCE_ERROR_TARGET", softce.cross_entropy, self.x, [0, 1, -1, 2])
        self.expect("SOFTCE_ERROR_SHAPE", softce.cross_entropy, self.x, [0, 1, 2])
        self.expect("SOFTCE_ERROR_SHAPE", softce.cross_entropy, self.x, self.t, [1.0, 2.0])
        for eps in (-0.1, 1.5, float("nan")):
            self.expect("SOFTCE_ERROR_OPTION", softce.cross_entropy, self.x, self.t,
                        label_smoothing=eps)
        self.expect("SOFTCE_ERROR_OPTION", softce.cross_entropy, self.x, self.t, num_threads=-1)
        self.expect("SOFTCE_ERROR_NDIM", softce.log_softmax, np.float64(1.0))
        self.expect("SOFTCE_ERROR_DTYPE", softce.cross_entropy_backward, self.x, self.t,
                    target_grad=True)
        self.expect("SOFTCE_ERROR_SHAPE", softce.log_softmax, self.x, out=np.zeros((3, 4)))
        self.expect("SOFTCE_ERROR_SHAPE", softce.cross_entropy_forward_backward, self.x,
                    self.t, reduction="none", grad_out=np.ones(3))

    def test_binding_errors(self):
        self.expect("SOFTCE_ERROR_OPTION", softce.cross_entropy, self.x, self.t,
                    reduction="avg")
        self.expect("SOFTCE_ERROR_OPTION", softce.cross_entropy, self.x, self.t,
                    ignore_index=2**63)
        self.expect("SOFTCE_ERROR_DTYPE", softce.cross_entropy, self.x.astype(int), self.t)
        self.expect("SOFTCE_ERROR_DTYPE", softce.cross_entropy, self.x, self.t.astype(float))
        self.expect("SOFTCE_ERROR_DTYPE", softce.cross_entropy, self.x, self.x.astype(int))
        self.expect("SOFTCE_ERROR_DTYPE", softce.cross_entropy, self.x, self.t > 0)
        self.expect("SOFTCE_ERROR_NDIM", softce.log_softmax, np.zeros((1,) * 9))
        self.expect("SOFTCE_ERROR_STRIDE", softce.log_softmax, self.x, out=np.zeros((4, 3))[::-1])
        ro = np.zeros((4, 3))
        ro.flags.writeable = False
        self.expect("SOFTCE_ERROR_STRIDE", softce.log_softmax, self.x, out=ro)
        self.expect("SOFTCE_ERROR_DTYPE", softce.log_softmax, self.x, out=np.zeros((4, 3), int))

    def test_failed_call_leaves_out_untouched(self):
        out = np.full((4, 3), 42.0)
        self.expect("SOFTCE_ERROR_TARGET", softce.cross_entropy_forward_backward, self.x,
                    [0, 1, 2, 3], out=out)
        self.assertTrue((out == 42.0).all())

    def test_overlap(self):
        buf = np.zeros(20)
        x = buf[:12].reshape(4, 3)
        self.expect("SOFTCE_ERROR_OVERLAP", softce.log_softmax, x, out=buf[3:15].reshape(4, 3))


class CopyTests(unittest.TestCase):
    """Strided views reach the library as views; results equal those of contiguous copies."""

    def setUp(self):
        rng = np.random.default_rng(3)
        self.base = rng.normal(size=(6, 5, 4, 3))
        self.views = {
            "transposed": self.base[:, :, 0, 0].T,
            "stepped": self.base[::2, 1::2, ::3, 1],
            "channels_last": np.moveaxis(self.base, 3, 1),
            "broadcast": np.broadcast_to(self.base[0, :, 0, :1], (7, 5, 3)),
        }

    def test_views_are_not_copied(self):
        for name, v in self.views.items():
            passed = _tensor.input_view(v)
            self.assertIs(passed, v, name)
            t = _tensor.describe(v, 2)
            self.assertEqual(t.data, v.ctypes.data, name)
            got = [t.strides[k] for k in range(v.ndim) if v.shape[k] > 1]
            want = [s // 8 for n, s in zip(v.shape, v.strides) if n > 1]
            self.assertEqual(got, want, name)

    def test_data_address(self):
        """The descriptors' data pointer (read from the array object under CPython) is numpy's
        own, for views at an offset, subclasses, read-only, 0-d, empty and broadcast arrays."""
        if sys.implementation.name == "cpython":
            self.assertEqual(_tensor.data_address.__name__, "fast")
        ro = self.base[1:, 2:].copy()
        ro.flags.writeable = False
        arrays = dict(self.views, offset=self.base[3:, 1:, 2:, 1:], ro=ro,
                      zero_d=np.asarray(np.float32(2.5)), empty=np.zeros((0, 4))[:, 1:],
                      sub=self.base[2:].view(np.recarray), f16=np.ones((3, 5), np.float16)[1:, 1:],
                      int_view=np.arange(40, dtype=np.int64)[5::3])
        for name, a in arrays.items():
            self.assertEqual(_tensor.data_address(a), a.ctypes.data, name)
            self.assertEqual(_tensor.describe(a, 2).data or 0, a.ctypes.data, name)
        self.assertTrue(_tensor.viewable(self.base[1:3]))
        self.assertFalse(_tensor.viewable(self.base[::-1]))

    def test_copy_cases(self):
        neg = self.base[::-1, :, 0, 0]
        self.assertTrue(_tensor.input_view(neg).flags.c_contiguous)
        rec = np.zeros(6, dtype=[("a", "i1"), ("b", "f8")])["b"]  # stride 9: not viewable
        self.assertFalse(_tensor.viewable(rec))
        close(self, softce.log_softmax(neg), softce.log_softmax(neg.copy()), 0.0)

    def test_strided_results(self):
        for name, v in self.views.items():
            ndim = v.ndim
            shape_t = v.shape[:1] + v.shape[2:] if ndim > 1 else ()
            t = np.random.default_rng(1).integers(0, v.shape[1 if ndim > 1 else 0],
                                                  size=shape_t)
            for red in ("mean", "none"):
                want = softce.cross_entropy_forward_backward(np.ascontiguousarray(v), t,
                                                             reduction=red)
                got = softce.cross_entropy_forward_backward(v, t, reduction=red)
                close(self, got[0], want[0], 1e-14)
                close(self, got[1], want[1], 1e-14)
            close(self, softce.log_softmax(v), softce.log_softmax(v.copy()), 1e-14)

    def test_in_place_through_out(self):
        x = np.moveaxis(self.base.copy(), 3, 1)  # channels-last, non-contiguous
        t = np.zeros((6, 5, 4), dtype=np.int32)
        want_loss, want_grad = softce.cross_entropy_forward_backward(x, t)
        loss, grad = softce.cross_entropy_forward_backward(x, t, out=x)
        self.assertIs(grad, x)
        close(self, loss, want_loss, 1e-14)
        close(self, x, want_grad, 1e-14)
        x = self.base[:, :, 0, 0].copy()
        want = softce.log_softmax(x)
        self.assertIs(softce.log_softmax(x, out=x), x)
        close(self, x, want, 1e-14)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
