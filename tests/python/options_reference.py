"""Independent float64 reference of the options added in libsoftce 1.1, written from
docs/numerics.md ("Options added in 1.1", "Reductions") and not from the C code.

    z_i  = c tanh(a x_i / c)   (softcap c > 0)   or   a x_i
    lse  = log sum_i exp(z_i),  y = z - lse,  sigma = exp(y)
    q    = smoothed target (uniform / others / prior)
    ce   = -sum_i w_i q_i y_i              (a term with w_i q_i = 0 is exactly 0)
    kl   = ce + sum_i w_i q_i log q_i      (terms with q_i = 0 are 0)
    l    = s (ce or kl + zl lse^2),   0 for ignored or masked (s == 0) elements
    dL/dx_i = G (sigma_i (sum_j w_j q_j + 2 zl lse) - w_i q_i) dz_i/dx_i,   G = g s / D
    dL/dp_i = G dq_i/dp_i (-w_i y_i [+ w_i (log q_i + 1) with KL, 0 where q_i = 0])

Besides the values, ref() returns error magnitudes ("mag_*"): the scale of the terms each
result is made of, against which the accuracy contract (relative to magnitudes, norm-wise for
gradients) is applied.
"""

import numpy as np


class EmptyMean(Exception):
    """The reference's SOFTCE_ERROR_EMPTY_MEAN: a mean over D == 0 with empty='error'."""


def _rows(a):
    """(E, C) rows of a logits-shaped array (class axis 1, or 0 for 1-D)."""
    a = np.asarray(a, np.float64)
    if a.ndim == 1:
        return a[None, :]
    return np.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def _unrows(r, shape):
    """Inverse of _rows."""
    if len(shape) == 1:
        return r.reshape(shape)
    moved = shape[:1] + shape[2:] + shape[1:2]
    return np.moveaxis(r.reshape(moved), -1, 1)


def element_shape(shape):
    return tuple(shape[:1]) + tuple(shape[2:]) if len(shape) >= 2 else ()


def ref(x, target, soft, *, weight=None, ignore_index=-100, reduction="mean",
        label_smoothing=0.0, grad=None, z_loss=0.0, softcap=None, logit_scale=1.0,
        sample_weight=None, denominator="auto", empty="nan", smoothing="uniform",
        smoothing_prior=None, kl=False):
    """Everything softce computes for one call, in float64, from the exact input values.

    x: logits values; target: soft values (shape of x) or class indices; grad: None (1), a
    scalar, or element-shaped for 'none'. Raises EmptyMean where softce must fail.
    """
    x = np.asarray(x, np.float64)
    shape = x.shape
    es = element_shape(shape)
    C = shape[1] if x.ndim >= 2 else shape[0]
    X = _rows(x)
    E = X.shape[0]
    eps = float(label_smoothing)
    a = float(logit_scale)
    zl = float(z_loss)
    W = np.ones(C) if weight is None else np.asarray(weight, np.float64).reshape(C)
    s = (np.ones(E) if sample_weight is None
         else np.broadcast_to(np.asarray(sample_weight, np.float64), es).reshape(E))
    with np.errstate(all="ignore"):
        # transform
        if softcap:
            c = float(softcap)
            Z = c * np.tanh(a * X / c)
            dz = a * (1.0 - (Z / c) ** 2)
        else:
            Z = a * X
            dz = np.full_like(Z, a)
        m = Z.max(axis=1, keepdims=True) if C else np.zeros((E, 1))
        lse = (m + np.log(np.exp(Z - m).sum(axis=1, keepdims=True)))[:, 0]
        Y = Z - lse[:, None]
        sig = np.exp(Y)
        # target distribution q, dq/dp, which elements count
        if soft:
            P = _rows(target)
            valid = np.ones(E, bool)
            base = P
        else:
            t = np.asarray(target).reshape(E).astype(np.int64)
            valid = t != ignore_index
            base = np.zeros((E, C))
            base[np.arange(E)[valid], t[valid]] = 1.0
        if smoothing == "others":
            if C > 1:
                Q = (1 - eps) * base + eps * (1 - base) / (C - 1)
                dqdp = 1 - eps - eps / (C - 1)
            else:
                Q, dqdp = base.copy(), 1.0
        elif smoothing_prior is not None:
            pi = np.asarray(smoothing_prior, np.float64).reshape(C)
            Q = (1 - eps) * base + eps * pi[None, :]
            dqdp = 1 - eps
        else:
            Q = (1 - eps) * base + eps / C
            dqdp = 1 - eps
        WQ = W[None, :] * Q
        S = WQ.sum(axis=1)
        ce = -np.where(WQ != 0, WQ * Y, 0.0).sum(axis=1)
        logq = np.where(Q != 0, np.log(np.where(Q != 0, Q, 1.0)), 0.0)
        hq = np.where(Q != 0, WQ * logq, 0.0)
        per = ce + (hq.sum(axis=1) if kl else 0.0) + zl * lse ** 2
        counted = valid & (s != 0)
        loss_e = np.where(counted, s * per, 0.0)
        # magnitudes of the terms (for tolerances)
        mag_e = np.where(counted, np.abs(s) * (
            (np.abs(WQ) * (np.abs(Z) + np.abs(lse)[:, None])).sum(axis=1)
            + (np.abs(hq).sum(axis=1) if kl else 0.0) + zl * lse ** 2), 0.0)
        # denominator
        if reduction == "mean":
            if not isinstance(denominator, str):
                D = float(denominator)
            elif denominator == "auto":
                D = float(E) if soft else float(W[t[valid]].sum())
            elif denominator == "valid":
                D = float(counted.sum())
            elif denominator == "weights":
                D = float(s[valid].sum()) if soft else float((s[valid] * W[t[valid]]).sum())
            elif denominator == "elements":
                D = float(E)
            else:
                raise ValueError(denominator)
        else:
            D = 1.0
        empty_mean = reduction == "mean" and D == 0
        if empty_mean and empty == "error":
            raise EmptyMean()
        zero_all = empty_mean and empty == "zero"
        # upstream gradient per element
        if grad is None:
            g = np.ones(E)
        else:
            g = np.broadcast_to(np.asarray(grad, np.float64), () if reduction != "none"
                                else es).reshape(-1)
            g = np.broadcast_to(g, (E,)) if g.size == 1 else g
        G = np.where(counted, g * s / D, 0.0)
        gx = (sig * (S + 2 * zl * lse)[:, None] - WQ) * dz
        GX = np.where(counted[:, None], G[:, None] * gx, 0.0)
        mag_gx = np.where(counted[:, None], np.abs(G)[:, None] * a * (
            sig * np.abs(S + 2 * zl * lse)[:, None] + np.abs(WQ)), 0.0)
        gt = -W[None, :] * Y
        mgt = np.abs(W[None, :]) * (np.abs(Z) + np.abs(lse)[:, None])
        if kl:
            gt = gt + np.where(Q != 0, W[None, :] * (logq + 1.0), 0.0)
            mgt = mgt + np.where(Q != 0, np.abs(W[None, :]) * (np.abs(logq) + 1.0), 0.0)
        GT = np.where(counted[:, None], G[:, None] * dqdp * gt, 0.0)
        mag_gt = np.where(counted[:, None], np.abs(G * dqdp)[:, None] * mgt, 0.0)
        if zero_all:
            GX, GT = np.zeros_like(GX), np.zeros_like(GT)
        # reduction
        if reduction == "none":
            loss, mag_loss = loss_e.reshape(es), mag_e.reshape(es)
        elif reduction == "sum":
            loss, mag_loss = loss_e.sum(), mag_e.sum()
        else:
            loss = 0.0 if zero_all else (np.nan if empty_mean else loss_e.sum() / D)
            mag_loss = 0.0 if empty_mean else mag_e.sum() / abs(D)
        # extra outputs
        xr = np.where(np.isnan(X), np.inf, X)  # a NaN counts as largest (first one wins)
        first_nan = np.isnan(X).any(axis=1)
        amax = np.where(first_nan, np.argmax(np.isnan(X), axis=1), np.argmax(xr, axis=1))
        tcls = np.argmax(P, axis=1) if soft else np.where(valid, t, -1)
        correct = counted & (amax == tcls)
        zlo = np.where(counted, s * zl * lse ** 2, 0.0)
    return {
        "loss": np.asarray(loss, np.float64), "mag_loss": np.asarray(mag_loss, np.float64),
        "grad_input": _unrows(GX, shape), "mag_grad_input": float(np.max(mag_gx, initial=0.0)),
        "grad_target": _unrows(GT, shape) if soft else None,
        "mag_grad_target": float(np.max(mag_gt, initial=0.0)),
        "lse": lse.reshape(es), "argmax": amax.reshape(es), "correct": correct.reshape(es),
        "z_loss": zlo.reshape(es), "mag_lse": (np.abs(lse) + np.abs(Z).max(axis=1, initial=0))
        .reshape(es), "D": D,
    }
