"""Helpers of test_torch_dropin.py: strided test tensors, targets, comparison, and a recorder
of the library calls softce.torch makes (to check the path taken and the pointers passed)."""

import numpy as np
import torch

import softce._ctypes
import softce.torch as st

LAYOUTS = ("contiguous", "transposed", "channels_last", "sliced")
ENTRY_POINTS = {"softce_forward", "softce_backward", "softce_forward_backward"}


def make_input(shape, dtype, layout, gen):
    """Logits of the given shape whose memory has the given layout (values ~ N(0, 2^2))."""
    values = gen.normal(0.0, 2.0, size=shape)
    nd = len(shape)
    if layout == "transposed":  # every dimension reversed in memory
        order = tuple(reversed(range(nd)))
        return torch.tensor(values.transpose(order).copy()).to(dtype).permute(order)
    if layout == "channels_last" and nd >= 3:  # class axis innermost
        stored = np.ascontiguousarray(np.moveaxis(values, 1, -1))
        return torch.tensor(stored).to(dtype).movedim(-1, 1)
    if layout == "sliced":  # every dimension stepped by 2 inside a larger buffer
        big = torch.zeros(tuple(2 * n for n in shape), dtype=dtype)
        view = big[tuple(slice(None, None, 2) for _ in shape)]
        view.copy_(torch.tensor(values))
        return view
    return torch.tensor(values).to(dtype)


def make_target(shape, soft, ignore, gen):
    """Soft: float64 probabilities along the class axis. Hard: int64 classes, about a quarter
    of them set to ignore."""
    axis = 1 if len(shape) > 1 else 0
    if soft:
        p = gen.gamma(1.0, size=shape)
        return torch.tensor(p / p.sum(axis=axis, keepdims=True))
    c = shape[axis]
    el = shape[:1] + shape[2:] if len(shape) > 1 else ()
    t = gen.integers(0, c, size=el)
    t = np.where(gen.random(size=el) < 0.25, ignore, t)
    return torch.tensor(t, dtype=torch.int64)


def close(test, got, want, tol, msg=""):
    """|got - want| <= tol * max(1, max|want|), NaN exactly where want is NaN."""
    got = got.detach().double()
    want = want.detach().double()
    test.assertEqual(tuple(got.shape), tuple(want.shape), msg)
    nan = torch.isnan(want)
    test.assertTrue(torch.equal(torch.isnan(got), nan), f"NaN mismatch {msg}")
    if got.numel() == 0 or bool(nan.all()):
        return
    err = float((got - want)[~nan].abs().max())
    scale = max(1.0, float(want[~nan].abs().max()))
    test.assertLessEqual(err, tol * scale, msg)


def _snapshot(arg):
    obj = getattr(arg, "_obj", arg)  # ctypes.byref(x)._obj is x
    if isinstance(obj, softce._ctypes.Tensor):
        n = obj.ndim
        return (obj.data or 0, tuple(obj.shape[:n]), tuple(obj.strides[:n]))
    return None if obj is None else type(obj).__name__


class Recorder:
    """Stands in for the loaded library in softce.torch and records each entry-point call as
    (name, [snapshot of each argument]); a snapshot of a tensor is (data, shape, strides)."""

    def __init__(self):
        self.lib = softce._ctypes.lib()
        self.calls = []
        self._saved = st._lib
        st._lib = lambda: self

    def uninstall(self):
        st._lib = self._saved

    def names(self):
        return [name for name, _ in self.calls]

    def __getattr__(self, name):
        fn = getattr(self.lib, name)
        if name not in ENTRY_POINTS:
            return fn

        def call(*args):
            self.calls.append((name, [_snapshot(a) for a in args]))
            return fn(*args)
        return call
