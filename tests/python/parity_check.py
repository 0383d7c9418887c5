"""Comparison of softce outputs with PyTorch references, and the softce call arguments of a case.

Tolerance, elementwise: |got - want| <= rtol * magnitude + flush * scale + atol, where
- magnitude (parity_reference) is the error scale of the result's terms and rtol the largest of
  those of the working precision and of the output dtype;
- flush * scale allows for exp() results below e^-87.3 (f32) or e^-708.3 (f64) in the working
  precision being flushed to 0 (the library's kernels do so by design, src/kernels/exp*.h):
  scale is the factor such a softmax value is multiplied by (gradients only);
- atol is the spacing of the output dtype's subnormals.
NaN and infinities must match exactly; a finite reference beyond the output dtype's range
expects an infinity.
"""

import numpy as np

from parity_cases import F16, F32, F64

BF16 = "bfloat16"  # numpy has no bfloat16 dtype: a key of its own
RTOL = {F64: 1e-12, F32: 1e-5, F16: 1e-3, BF16: 8e-3}  # by working precision / output dtype
FLUSH = {F64: 3e-308, F32: 1.3e-38}  # e^-708.3, e^-87.3 (+ margin): by working precision
ATOL = {F64: 5e-324, F32: 1.5e-45, F16: 6e-8, BF16: 1e-40}  # by output dtype


class Checker:
    """Compares outputs with references; records failures and the worst error/tolerance."""

    def __init__(self):
        self.failures = []
        self.checks = 0
        self.worst = {}

    def compare(self, label, got, want, mag, dtypes, case_text):
        """dtypes = (working precision, output dtype); mag = magnitude or (magnitude, scale)."""
        self.checks += 1
        mag, scale = mag if isinstance(mag, tuple) else (mag, 0.0)
        got = np.asarray(got, dtype=np.float64)
        want = np.asarray(want, dtype=np.float64)
        if got.shape != want.shape:
            return self.fail(label, case_text, f"shape {got.shape} != {want.shape}")
        out = dtypes[-1]  # (working precision, output dtype)
        if isinstance(out, np.dtype):  # beyond the output dtype's range: infinity expected
            with np.errstate(over="ignore", invalid="ignore"):
                overflow = np.isinf(want.astype(out)) & np.isfinite(want)
            want = np.where(overflow, np.copysign(np.inf, want), want)
        rtol = max(RTOL[d] for d in dtypes)
        atol = FLUSH[dtypes[0]] * np.broadcast_to(scale, want.shape) + ATOL[dtypes[-1]]
        nan_g, nan_w = np.isnan(got), np.isnan(want)
        if (nan_g != nan_w).any():
            i = np.argwhere(nan_g != nan_w)[0]
            return self.fail(label, case_text, f"NaN mismatch at {tuple(i)}: got "
                             f"{got[tuple(i)]!r}, want {want[tuple(i)]!r}")
        inf = np.isinf(want) | np.isinf(got)
        if (got[inf] != want[inf]).any():
            return self.fail(label, case_text, "infinity mismatch")
        ok = ~(nan_w | inf)
        err = np.abs(got[ok] - want[ok])
        tol = (rtol * np.broadcast_to(mag, want.shape) + atol)[ok]
        ratio = float(np.max(err / tol, initial=0.0))
        key = "->".join(str(d) for d in dtypes)
        if ratio > self.worst.get(key, (0.0,))[0]:
            self.worst[key] = (ratio, f"{label} {case_text}")
        if ratio > 1.0:
            k = int(np.argmax(err / tol))
            self.fail(label, case_text, f"error {err[k]:.3g} > tol {tol[k]:.3g} "
                      f"(got {got[ok][k]!r}, want {want[ok][k]!r}; max ratio {ratio:.3g})")

    def expect(self, label, cond, case_text, msg):
        self.checks += 1
        if not cond:
            self.fail(label, case_text, msg)

    def fail(self, label, case_text, msg):
        self.failures.append(f"{label}: {msg}\n    case: {case_text}")


def softce_kwargs(case):
    kw = dict(weight=None, ignore_index=case.ignore_index, reduction=case.reduction,
              label_smoothing=case.eps, num_threads=case.num_threads)
    if case.weight is not None:
        kw["weight"] = case.views["weight"][0]
    return kw


def grad_arg(case):
    if case.grad is None:
        return None
    if case.grad.ndim == 0 and case.views["grad"][1] == "contiguous":
        return float(case.grad)  # a Python scalar, as users pass it
    return case.views["grad"][0]
