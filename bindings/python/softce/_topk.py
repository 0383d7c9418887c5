"""Sparse top-k soft targets: cross_entropy_topk and its gradients (docs/topk.md).

A soft target given as K (class index, probability) pairs per element: topk_index (integers)
and topk_prob (floats), both shaped like the element shape plus a last axis K, e.g. (N, K) for
(N, C) logits and (N, d1, K) for (N, C, d1). The results equal those of the dense soft target
p with p[i] = the sum of the probabilities listed for class i; with rest='uniform' the mass
1 - sum(topk_prob) not listed is spread evenly over the classes not listed. The dense target is
never built in memory: the library computes a row from the K pairs (or stages the dense row one
row at a time, for kl, correct and the backward; docs/topk.md).
"""

import ctypes

import numpy as np

from . import _api as A
from . import _ctypes as C
from . import _tensor as T
from ._errors import check, raise_binding_error

# softce_topk_rest
REST = {"ignore": 0, "uniform": 1}


class _TopkCall(A._Call):
    """A _Call whose target is the pair (topk_index, topk_prob)."""

    def _set_target(self, target):
        index, prob = target
        i = T.native(T.as_array(index))
        if i.dtype.kind not in "iu" or T.is_bfloat16(i.dtype):
            raise_binding_error("SOFTCE_ERROR_DTYPE", "topk_index must be an integer array, "
                                f"not {i.dtype} (shape {i.shape})")
        if T.int_code(i.dtype) is None:
            i = T.to_int64(i, "topk_index")
        p = T.native(T.as_array(prob))
        if T.float_code(p.dtype) is None:
            raise_binding_error("SOFTCE_ERROR_DTYPE", "topk_prob must be float32, float64, "
                                f"float16 or bfloat16, not {p.dtype} (shape {p.shape})")
        self.soft = True
        self.index = T.input_view(i)
        self.prob = T.input_view(p)
        self.t_t = T.describe(self.index, T.int_code(self.index.dtype))
        self.p_t = T.describe(self.prob, T.float_code(self.prob.dtype))

    def set_rest(self, rest):
        self.rest = A._choice(rest, "rest", REST)


def _call(input, topk_index, topk_prob, weight, reduction, label_smoothing, rest, num_threads,
          options):
    c = _TopkCall(input, num_threads)
    c.set_rest(rest)
    c.set_loss_options((topk_index, topk_prob), weight, -100, reduction, label_smoothing,
                       options)
    return c


def cross_entropy_topk(input, topk_index, topk_prob, weight=None, reduction="mean",
                       label_smoothing=0.0, *, rest="ignore", num_threads=0, z_loss=0.0,
                       softcap=None, logit_scale=1.0, sample_weight=None, denominator="auto",
                       empty="nan", smoothing="uniform", smoothing_prior=None, kl=False,
                       extras=()):
    c = _call(input, topk_index, topk_prob, weight, reduction, label_smoothing, rest,
              num_threads, A._options(z_loss, softcap, logit_scale, sample_weight, denominator,
                                      empty, smoothing, smoothing_prior, kl))
    names = A.extra_names(extras)
    c.set_extras(names)
    loss, loss_t = c.new_output(c.loss_shape())
    check(C.lib().softce_topk_forward(ctypes.byref(c.opts), ctypes.byref(c.x_t),
                                      ctypes.byref(c.t_t), ctypes.byref(c.p_t), c.rest,
                                      ctypes.byref(loss_t), None))
    return (loss, c.extras_result()) if names else loss


_TOPK_DOC = """
    topk_index: integer array (int32/int64 passed as they are, other integer types converted
      to int64) of the element shape + (K): the listed classes, each in [0, C); a class may be
      listed more than once (its probabilities add up).
    topk_prob: float array of the shape of topk_index: their probabilities.
    rest: 'ignore' (the classes not listed get probability 0) or 'uniform' (the remaining mass
      1 - sum(topk_prob) is spread evenly over the classes not listed).
    Every other argument means what it means for a dense soft target in cross_entropy.
"""

cross_entropy_topk.__doc__ = (
    """Cross-entropy of a sparse top-k soft target: the loss of cross_entropy with the
    equivalent dense target (a 0-d array for 'mean'/'sum', element-shaped for 'none');
    (loss, extras) when extras are requested.
""" + _TOPK_DOC + A._OPTION_DOC + A._EXTRAS_DOC)


def cross_entropy_topk_forward_backward(input, topk_index, topk_prob, weight=None,
                                        reduction="mean", label_smoothing=0.0, *,
                                        rest="ignore", grad_out=None, num_threads=0, out=None,
                                        z_loss=0.0, softcap=None, logit_scale=1.0,
                                        sample_weight=None, denominator="auto", empty="nan",
                                        smoothing="uniform", smoothing_prior=None, kl=False,
                                        extras=()):
    c = _call(input, topk_index, topk_prob, weight, reduction, label_smoothing, rest,
              num_threads, A._options(z_loss, softcap, logit_scale, sample_weight, denominator,
                                      empty, smoothing, smoothing_prior, kl))
    names = A.extra_names(extras)
    c.set_extras(names)
    g_t = c.grad_loss(grad_out)
    loss, loss_t = c.new_output(c.loss_shape())
    grad, grad_t = c.grad_input(out)
    check(C.lib().softce_topk_forward_backward(ctypes.byref(c.opts), ctypes.byref(c.x_t),
                                               ctypes.byref(c.t_t), ctypes.byref(c.p_t),
                                               c.rest, A._ref(g_t), ctypes.byref(loss_t),
                                               ctypes.byref(grad_t)))
    return (loss, grad, c.extras_result()) if names else (loss, grad)


cross_entropy_topk_forward_backward.__doc__ = (
    """(loss, grad_input) of a sparse top-k soft target in one fused pass; grad_out is the
    upstream gradient (None = 1).

    out: optional float array shaped like input that receives grad_input (may be input itself:
    the gradient then overwrites the logits in place, with no copy).
    (loss, grad_input, extras) when extras are requested.
""" + _TOPK_DOC + A._OPTION_DOC + A._EXTRAS_DOC)


def cross_entropy_topk_backward(input, topk_index, topk_prob, grad_output=None, weight=None,
                                reduction="mean", label_smoothing=0.0, *, rest="ignore",
                                prob_grad=False, num_threads=0, out=None, z_loss=0.0,
                                softcap=None, logit_scale=1.0, sample_weight=None,
                                denominator="auto", empty="nan", smoothing="uniform",
                                smoothing_prior=None, kl=False):
    c = _call(input, topk_index, topk_prob, weight, reduction, label_smoothing, rest,
              num_threads, A._options(z_loss, softcap, logit_scale, sample_weight, denominator,
                                      empty, smoothing, smoothing_prior, kl))
    g_t = c.grad_loss(grad_output)
    grad, grad_t = c.grad_input(out)
    pgrad = pgrad_t = None
    if prob_grad:  # shaped and typed like topk_prob
        pgrad = np.empty(c.prob.shape, dtype=c.prob.dtype)
        pgrad_t = T.describe(pgrad, T.float_code(pgrad.dtype))
    check(C.lib().softce_topk_backward(ctypes.byref(c.opts), ctypes.byref(c.x_t),
                                       ctypes.byref(c.t_t), ctypes.byref(c.p_t), c.rest,
                                       A._ref(g_t), None, ctypes.byref(grad_t),
                                       A._ref(pgrad_t)))
    return (grad, pgrad) if prob_grad else grad


cross_entropy_topk_backward.__doc__ = (
    """grad_input, or (grad_input, grad_prob) when prob_grad=True: grad_prob = d loss /
    d topk_prob (through the dense target, including the dependence of the 'uniform' rest on
    the probabilities), shaped and typed like topk_prob.

    The options must be those of the forward call.
""" + _TOPK_DOC + A._OPTION_DOC)
