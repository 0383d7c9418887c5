"""PyTorch reference values and error scales for the differential test.

Reference: torch.nn.functional.cross_entropy and autograd in float64 on the exact case values
(for f16/f32 cases too: the values are exactly representable, so float64 torch is the better
oracle than torch computing in the case's own precision).

Error scale ("magnitude") of each output, from float64 numpy: the sum of the absolute values of
the terms whose rounding errors make up the result, e.g. for a loss element
sum_c |w_c q_c| (|y_c| + |lse|). A correct implementation in working precision u is within a
small multiple of u * magnitude; the test allows rtol * magnitude.
"""

import numpy as np
import torch
import torch.nn.functional as F


def class_axis(ndim):
    return 1 if ndim > 1 else 0


def torch_reference(case, x=None):
    """dict of float64 numpy arrays: loss, grad_input, grad_target (soft), log_softmax."""
    x = case.x if x is None else x
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    if case.soft:
        tt = torch.tensor(case.target, dtype=torch.float64, requires_grad=True)
    else:
        tt = torch.tensor(case.target, dtype=torch.int64)
    w = None if case.weight is None else torch.tensor(case.weight, dtype=torch.float64)
    # PyTorch refuses ignore_index with soft targets; softce ignores it there (SPEC 2).
    ignore = -100 if case.soft else case.ignore_index
    loss = F.cross_entropy(xt, tt, weight=w, ignore_index=ignore,
                           reduction=case.reduction, label_smoothing=case.eps)
    g = torch.ones_like(loss) if case.grad is None else torch.tensor(case.grad, dtype=loss.dtype)
    inputs = [xt, tt] if case.soft else [xt]
    grads = torch.autograd.grad(loss, inputs, g, allow_unused=True)
    out = {"loss": loss.detach().numpy(), "grad_input": grads[0].numpy()}
    if not case.soft:
        # SPEC: the gradient of an ignored element is 0. PyTorch agrees except when the
        # element's logits hold a NaN (its log_softmax backward computes NaN * 0).
        ignored = np.expand_dims(case.target == case.ignore_index, class_axis(x.ndim))
        out["grad_input"] = np.where(ignored, 0.0, out["grad_input"])
    if case.soft:
        out["grad_target"] = grads[1].numpy()
    out["log_softmax"] = F.log_softmax(xt.detach(), dim=class_axis(x.ndim)).numpy()
    return out


def _rows(a, ndim):
    """(E, C) matrix of a class-axis array, and a function mapping (E, C) back."""
    moved = np.moveaxis(a, class_axis(ndim), -1)
    shape = moved.shape

    def back(m):
        return np.moveaxis(m.reshape(shape), -1, class_axis(ndim))

    return moved.reshape(-1, shape[-1]), back


def _weighted_target(case, c):
    """(E, C) matrix w_c * |q[e, c]| of the smoothed target's terms, and the mean denominator."""
    w = np.ones(c) if case.weight is None else case.weight
    if case.soft:
        q, _ = _rows(case.target, case.x.ndim)
        # Magnitude of the smoothing terms, not of their (possibly cancelling) sum.
        q = (1 - case.eps) * np.abs(q) + case.eps / c
        return w * q, q.shape[0]
    t = case.target.reshape(-1)
    valid = t != case.ignore_index
    q = np.zeros((t.size, c))
    q[valid] = case.eps / c
    q[np.nonzero(valid)[0], t[valid]] += 1 - case.eps
    return w * q, w[t[valid]].sum()


def magnitudes(case):
    """Error scales (float64 arrays shaped like each output); for grad_input a pair (error
    scale, factor applied to a softmax value flushed to 0): see parity_check."""
    with np.errstate(all="ignore"):
        return _magnitudes(case)


def _magnitudes(case):
    x, back = _rows(case.x, case.x.ndim)
    c = x.shape[1]
    m = np.max(x, axis=1, keepdims=True, initial=-np.inf)
    lse = m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))
    y = x - lse
    ay = np.abs(y) + np.abs(lse)
    wq, denom = _weighted_target(case, c)
    awq = np.abs(wq)
    mean = case.reduction == "mean"
    d = abs(denom) if mean and denom != 0 else 1.0
    g = np.ones(x.shape[0]) if case.grad is None else np.broadcast_to(
        np.abs(case.grad).reshape(-1), (x.shape[0],))
    loss_e = np.sum(awq * ay, axis=1)
    elem_shape = case.x.shape[:1] + case.x.shape[2:] if case.x.ndim > 1 else ()
    if case.reduction == "none":
        loss = loss_e.reshape(elem_shape)
    else:
        loss = np.asarray(loss_e.sum() / d)
    s = np.exp(y)
    gi = (g / d)[:, None] * (s * awq.sum(axis=1, keepdims=True) * (1 + ay) + awq)
    w = np.ones(c) if case.weight is None else case.weight
    gt = (1 - case.eps) * np.abs(w) * (g / d)[:, None] * ay
    flush_scale = (g / d)[:, None] * awq.sum(axis=1, keepdims=True) * np.ones((1, c))
    return {"loss": loss, "grad_input": (back(gi), back(flush_scale)), "grad_target": back(gt),
            "log_softmax": back(ay)}
