#!/usr/bin/python3
"""DLPack in the softce binding: every function takes objects with __dlpack__ (a hand-made
producer, numpy >= 1.22 arrays, torch tensors) as well as numpy arrays, without copying.

Checks the protocol (classic and versioned capsules, renaming to used_dltensor, the deleter run
exactly once when the last view dies, strides, byte_offset, read-only flag, devices, dtypes)
and the values against the numpy path and a float64 reference.
Exit status: 0 pass, 1 fail, 77 skipped (numpy missing; torch tests skip without torch).
"""

import gc
import importlib.util
import sys
import unittest

try:
    import numpy as np
except ImportError:
    print("SKIPPED: numpy is not importable")
    sys.exit(77)

import softce
from softce import _dlpack
from dlpack_producer import BFLOAT, COMPLEX, CUDA, READ_ONLY, Producer

HAS_TORCH = importlib.util.find_spec("torch") is not None


def ref_log_softmax(x):
    x = np.asarray(x, np.float64)
    m = x.max(axis=1, keepdims=True)
    return x - (m + np.log(np.exp(x - m).sum(axis=1, keepdims=True)))


class ProtocolTests(unittest.TestCase):
    def setUp(self):
        self.base = np.random.default_rng(2).normal(size=40)

    def test_classic_capsule_contiguous(self):
        p = Producer(self.base, (4, 5), offset=3)
        a = _dlpack.from_dlpack(p)
        self.assertEqual(p.asked, [(1, 0), None])  # versioned asked first, then classic
        self.assertEqual(a.ctypes.data, self.base.ctypes.data + 3 * 8)  # a view, no copy
        np.testing.assert_array_equal(a, self.base[3:23].reshape(4, 5))
        self.assertEqual(p.deleted, [])
        view = a[1:]
        del a
        gc.collect()
        self.assertEqual(p.deleted, [])  # a view of the array is still alive
        del view
        gc.collect()
        self.assertEqual(len(p.deleted), 1)
        self.assertEqual(p.alive, {})
        self.assertEqual(p.capsule_names, [b"used_dltensor"])

    def test_strides_and_offset(self):
        p = Producer(self.base, (3, 4), strides=(2, 7), offset=5)
        a = _dlpack.from_dlpack(p)
        want = p.expected()
        self.assertEqual(a.strides, want.strides)
        self.assertEqual(a.ctypes.data, want.ctypes.data)
        np.testing.assert_allclose(softce.log_softmax(p), ref_log_softmax(want), rtol=1e-14)

    def test_versioned_read_only(self):
        p = Producer(self.base, (5, 8), versioned=True, flags=READ_ONLY)
        a = _dlpack.from_dlpack(p)
        self.assertFalse(a.flags.writeable)
        self.assertEqual(p.asked, [(1, 0)])
        np.testing.assert_allclose(softce.log_softmax(p), ref_log_softmax(a), rtol=1e-14)
        with self.assertRaises(softce.SoftceError) as cm:
            softce.log_softmax(np.zeros((5, 8)), out=p)
        self.assertEqual(cm.exception.name, "SOFTCE_ERROR_STRIDE")
        del a
        gc.collect()
        self.assertEqual(len(p.deleted), 3)  # one per export, each exactly once
        self.assertEqual(set(p.capsule_names), {b"used_dltensor_versioned"})

    def test_out_writes_producer_memory(self):
        p = Producer(self.base, (4, 5), versioned=True)
        x = np.random.default_rng(4).normal(size=(4, 5))
        self.assertIs(softce.log_softmax(x, out=p), p)
        np.testing.assert_allclose(self.base[:20].reshape(4, 5), ref_log_softmax(x),
                                   rtol=1e-14)
        gc.collect()
        self.assertEqual(len(p.deleted), 1)

    def test_refused_exports_are_released(self):
        cases = {"device": Producer(self.base, (2, 3), device=CUDA),
                 "lanes": Producer(self.base, (2, 3), lanes=2),
                 "complex": Producer(self.base, (2, 3), code=COMPLEX, bits=64)}
        for name, p in cases.items():
            with self.assertRaises(softce.SoftceError) as cm:
                softce.log_softmax(p)
            self.assertEqual(cm.exception.name, "SOFTCE_ERROR_DTYPE", name)
            gc.collect()
            self.assertEqual(len(p.deleted), 1, name)
            self.assertEqual(p.capsule_names, [b"used_dltensor"], name)
        remote = Producer(self.base, (2, 3), device_seen=CUDA)
        with self.assertRaises(softce.SoftceError):
            softce.log_softmax(remote)
        self.assertEqual(remote.asked, [])  # refused before anything was exported

    def test_empty(self):
        p = Producer(self.base, (0, 5))
        self.assertEqual(softce.cross_entropy(p, np.zeros(0, np.int64), reduction="sum"), 0.0)
        gc.collect()
        self.assertEqual(len(p.deleted), 1)

    def test_bfloat16(self):
        bits = np.array([0x0000, 0x3F80, 0x4000, 0x4040, 0xBF80, 0x0000], np.uint16)  # 0,1,2,3,-1,0
        p = Producer(bits, (2, 3), code=BFLOAT, bits=16)
        loss, grad = softce.cross_entropy_forward_backward(p, np.array([2, 0]))
        x = np.array([[0.0, 1.0, 2.0], [3.0, -1.0, 0.0]])
        y = ref_log_softmax(x)
        want = -(y[0, 2] + y[1, 0]) / 2
        self.assertTrue(softce._tensor.is_bfloat16(loss.dtype))
        got = softce._tensor.to_float(loss, np.float64)
        self.assertAlmostEqual(float(got), want, delta=1e-2)
        gwant = (np.exp(y) - np.eye(3)[[2, 0]]) / 2
        np.testing.assert_allclose(softce._tensor.to_float(grad, np.float64), gwant, atol=4e-3)

    def test_numpy_arrays_through_dlpack(self):
        class Wrapped:  # only the protocol, so the binding must take the DLPack route
            def __init__(self, a):
                self.a = a

            def __dlpack__(self, stream=None):
                return self.a.__dlpack__(stream=stream)

            def __dlpack_device__(self):
                return self.a.__dlpack_device__()

        x = np.random.default_rng(6).normal(size=(6, 4, 3))[:, :, ::2]
        t = np.array([[0, 1], [3, 2], [1, 1], [0, 0], [2, 3], [3, 3]])
        refs = sys.getrefcount(x)
        for fn in (softce.cross_entropy, softce.cross_entropy_forward_backward,
                   softce.cross_entropy_backward):
            got, want = fn(Wrapped(x), Wrapped(t)), fn(x, t)
            for g, w in zip(got if isinstance(got, tuple) else (got,),
                            want if isinstance(want, tuple) else (want,)):
                np.testing.assert_array_equal(g, w)
        gc.collect()
        self.assertEqual(sys.getrefcount(x), refs)  # numpy's deleters ran (with the GIL)


@unittest.skipUnless(HAS_TORCH, "torch is not installed")
class TorchTests(unittest.TestCase):
    def setUp(self):
        import torch
        self.torch = torch
        gen = torch.Generator().manual_seed(9)
        self.x = torch.randn(7, 6, 5, generator=gen, dtype=torch.float64).permute(0, 2, 1)
        self.t = torch.randint(0, 5, (7, 6), generator=gen)
        self.q = torch.softmax(torch.randn(7, 5, 6, generator=gen), 1)
        self.w = torch.rand(5, generator=gen) + 0.5

    def test_views_share_memory(self):
        for v in (self.x, self.x[::2, 1:], self.t.t(), self.w.expand(3, 5)):
            a = _dlpack.from_dlpack(v)
            self.assertEqual(a.ctypes.data, v.data_ptr())
            self.assertEqual(a.strides, tuple(s * v.element_size() for s in v.stride()))

    def test_every_function(self):
        x, t, q, w = self.x, self.t, self.q, self.w
        xn, tn, qn, wn = x.numpy(), t.numpy(), q.numpy(), w.numpy()
        g = self.torch.rand(7, 6, dtype=self.torch.float64)
        pairs = [
            (softce.cross_entropy(x, t, w, reduction="none", label_smoothing=0.1),
             softce.cross_entropy(xn, tn, wn, reduction="none", label_smoothing=0.1)),
            (softce.cross_entropy_forward_backward(x, q, w, grad_out=g.sum())[1],
             softce.cross_entropy_forward_backward(xn, qn, wn, grad_out=g.sum().item())[1]),
            (softce.cross_entropy_backward(x, t, g, w, reduction="none"),
             softce.cross_entropy_backward(xn, tn, g.numpy(), wn, reduction="none")),
            (softce.cross_entropy_backward(x, q, target_grad=True)[1],
             softce.cross_entropy_backward(xn, qn, target_grad=True)[1]),
            (softce.log_softmax(x), softce.log_softmax(xn)),
        ]
        for got, want in pairs:
            np.testing.assert_array_equal(got, want)
        self.assertEqual(softce.cross_entropy_backward(x, q, target_grad=True)[1].dtype,
                         np.float32)  # grad_target in the target's dtype

    def test_out_is_the_tensor(self):
        torch = self.torch
        x = torch.randn(4, 6, dtype=torch.float64)
        t = torch.tensor([0, 5, 2, 2])
        out = torch.empty(6, 4, dtype=torch.float64).t()  # strided destination
        loss, grad = softce.cross_entropy_forward_backward(x, t, out=out)
        self.assertIs(grad, out)
        xr = x.clone().requires_grad_()
        torch.nn.functional.cross_entropy(xr, t).backward()
        self.assertLess(float((out - xr.grad).abs().max()), 1e-15)
        same = x.clone()
        softce.cross_entropy_forward_backward(same, t, out=same)  # in place
        self.assertTrue(torch.allclose(same, xr.grad, rtol=0, atol=1e-15))

    def test_bfloat16_tensor(self):
        torch = self.torch
        x = torch.randn(5, 9).to(torch.bfloat16)
        t = torch.tensor([0, 8, 3, 3, 1])
        loss, grad = softce.cross_entropy_forward_backward(x, t, label_smoothing=0.2)
        xr = x.float().requires_grad_()
        want = torch.nn.functional.cross_entropy(xr, t, label_smoothing=0.2)
        want.backward()
        as_torch = torch.from_numpy(np.ascontiguousarray(grad).view(np.int16))
        got_grad = as_torch.view(torch.bfloat16).float()
        self.assertLess(abs(float(softce._tensor.to_float(loss, np.float32)) - want.item()),
                        2e-2)
        self.assertLess(float((got_grad - xr.grad).abs().max()), 4e-3)

    def test_negation_bit(self):
        """A lazily negated tensor (torch._neg_view) exports the memory of its negation:
        as an input it is read as its values (resolved, a copy); as an out it is refused."""
        torch = self.torch
        neg = torch._neg_view
        x, t, q, w = self.x, self.t, self.q.double(), self.w.double()
        want = torch.nn.functional.cross_entropy(-x, -q, -w, label_smoothing=0.1).item()
        got = softce.cross_entropy(neg(x), neg(q), neg(w), label_smoothing=0.1)
        self.assertLess(abs(float(got) - want), 1e-13 * abs(want))
        self.assertEqual(float(got), float(softce.cross_entropy(-x, -q, -w, label_smoothing=0.1)))
        g = torch.rand(7, 6, dtype=torch.float64)
        np.testing.assert_array_equal(
            softce.cross_entropy_backward(x, t, neg(g), reduction="none"),
            softce.cross_entropy_backward(x, t, (-g).numpy(), reduction="none"))
        out = torch.zeros(7, 5, 6, dtype=torch.float64)
        with self.assertRaisesRegex(softce.SoftceError, "negation bit"):
            softce.cross_entropy_forward_backward(x, t, out=neg(out))
        self.assertTrue(bool((out == 0).all()))  # untouched

    def test_requires_grad_is_refused_by_torch(self):
        with self.assertRaises(RuntimeError):  # torch refuses the export: use .detach()
            softce.log_softmax(self.x.clone().requires_grad_())


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    sys.exit(0 if result.wasSuccessful() else 1)
