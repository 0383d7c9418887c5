"""The public functions: PyTorch-named wrappers over the libsoftce entry points."""

import ctypes
import math
import numbers
import operator

import numpy as np

from . import _ctypes as C
from . import _tensor as T
from ._errors import check, raise_binding_error

_I64 = (-(2**63), 2**63)
_I32 = (-(2**31), 2**31)


def _int_option(value, name, bounds):
    value = operator.index(value)
    if not bounds[0] <= value < bounds[1]:
        raise_binding_error("SOFTCE_ERROR_OPTION", f"{name} = {value} does not fit the C type")
    return value


def _ref(t):
    return None if t is None else ctypes.byref(t)


# The 1.1 options: keyword values -> softce_options fields.
DENOMINATORS = {"auto": 0, "valid": 1, "weights": 2, "elements": 3}  # a number: VALUE (4)
DENOMINATOR_VALUE = 4
EMPTY = {"nan": 0, "zero": 1, "error": 2}
SMOOTHING = {"uniform": 0, "others": 1}
FLAG_KL = 1
EXTRAS = ("lse", "argmax", "correct", "z_loss")


def _real(value, name):
    """value as a float; bool, strings and other non-numbers raise SoftceError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if not (isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "fiu"):
            raise_binding_error("SOFTCE_ERROR_OPTION", f"{name} = {value!r} is not a real "
                                "number")
    return float(value)


def _choice(value, name, table):
    code = table.get(value) if isinstance(value, str) else None
    if code is None:
        allowed = ", ".join(repr(k) for k in table)
        raise_binding_error("SOFTCE_ERROR_OPTION", f"{name} = {value!r} is not one of "
                            f"{allowed}")
    return code


def option_fields(z_loss=0.0, softcap=None, logit_scale=1.0, denominator="auto", empty="nan",
                  smoothing="uniform", kl=False):
    """The scalar 1.1 fields of softce_options for the binding's keywords, checked.

    Returns a dict {field: value} (shared by softce and softce.torch).
    """
    f = {}
    f["z_loss"] = _real(z_loss, "z_loss")
    if not (math.isfinite(f["z_loss"]) and f["z_loss"] >= 0.0):
        raise_binding_error("SOFTCE_ERROR_OPTION", f"z_loss = {z_loss!r} must be finite and "
                            ">= 0")
    if softcap is None:
        f["softcap"] = 0.0
    else:
        f["softcap"] = _real(softcap, "softcap")
        if not (math.isfinite(f["softcap"]) and f["softcap"] > 0.0):
            raise_binding_error("SOFTCE_ERROR_OPTION", f"softcap = {softcap!r} must be finite "
                                "and > 0 (None turns the softcap off)")
    f["logit_scale"] = _real(logit_scale, "logit_scale")
    if not (math.isfinite(f["logit_scale"]) and f["logit_scale"] > 0.0):
        raise_binding_error("SOFTCE_ERROR_OPTION", f"logit_scale = {logit_scale!r} must be "
                            "finite and > 0")
    if isinstance(denominator, str):
        f["denominator"] = _choice(denominator, "denominator", DENOMINATORS)
        f["denominator_value"] = 0.0
    else:
        if isinstance(denominator, bool) or not isinstance(denominator, (numbers.Real,
                                                                         np.ndarray)):
            raise_binding_error("SOFTCE_ERROR_OPTION", f"denominator = {denominator!r} is "
                                "neither 'auto', 'valid', 'weights', 'elements' nor a number")
        value = _real(denominator, "denominator")
        if not (math.isfinite(value) and value > 0.0):
            raise_binding_error("SOFTCE_ERROR_OPTION", f"denominator = {denominator!r}: a "
                                "number must be finite and > 0")
        f["denominator"] = DENOMINATOR_VALUE
        f["denominator_value"] = value
    f["empty"] = _choice(empty, "empty", EMPTY)
    f["smoothing"] = _choice(smoothing, "smoothing", SMOOTHING)
    if not isinstance(kl, (bool, np.bool_)):
        raise_binding_error("SOFTCE_ERROR_OPTION", f"kl = {kl!r} is not a bool")
    f["flags"] = FLAG_KL if kl else 0
    return f


def extra_names(extras):
    """The requested extra outputs as a tuple of names (a single string is one name)."""
    if extras is None:
        return ()
    if isinstance(extras, str):
        extras = (extras,)
    try:
        names = tuple(extras)
    except TypeError:
        raise_binding_error("SOFTCE_ERROR_OPTION", f"extras = {extras!r} is not a tuple of "
                            f"names among {EXTRAS}")
    for n in names:
        if n not in EXTRAS:
            raise_binding_error("SOFTCE_ERROR_OPTION", f"extras: {n!r} is not one of "
                                + ", ".join(repr(e) for e in EXTRAS))
    return tuple(dict.fromkeys(names))  # unique, in order


class _Call:
    """The operands of one call as descriptors, the options, and the arrays they point into."""

    def __init__(self, input, num_threads):
        self.x, code = T.float_input(input, "input")
        self.x_t = T.describe(self.x, code)
        self.opts = C.new_options()
        self.opts.num_threads = _int_option(num_threads, "num_threads", _I32)
        self.keep = []  # arrays whose memory the descriptors point into

    def set_loss_options(self, target, weight, ignore_index, reduction, label_smoothing,
                         opt=None):
        """opt: the dict of 1.1 keywords (see _OPTION_DEFAULTS), or None (all defaults)."""
        red = C.REDUCTIONS.get(reduction) if isinstance(reduction, str) else None
        if red is None:
            raise_binding_error("SOFTCE_ERROR_OPTION", f"reduction {reduction!r} is not one "
                                "of 'mean', 'sum', 'none'")
        self.reduction = reduction
        self.opts.reduction = red
        self.opts.ignore_index = _int_option(ignore_index, "ignore_index", _I64)
        self.opts.label_smoothing = float(label_smoothing)
        self._set_target(target)
        if weight is not None:
            self.w_t = self.describe_input(self._weight(weight, "weight"))
            self.opts.weight = ctypes.pointer(self.w_t)
        if opt:
            self._set_new_options(**opt)

    def _set_new_options(self, sample_weight=None, smoothing_prior=None, **scalars):
        for field, value in option_fields(**scalars).items():
            setattr(self.opts, field, value)
        if sample_weight is not None:
            sw = self._weight(sample_weight, "sample_weight", any_float=True)
            if sw.ndim == 0:  # a scalar applies to every element (zero strides: no copy)
                sw = np.broadcast_to(sw, self.element_shape())
            self.sw_t = self.describe_input(sw)
            self.opts.sample_weight = ctypes.pointer(self.sw_t)
        if smoothing_prior is not None:
            self.prior_t = self.describe_input(self._weight(smoothing_prior, "smoothing_prior",
                                                            any_float=True))
            self.opts.smoothing_prior = ctypes.pointer(self.prior_t)

    def set_extras(self, names):
        """Allocates the requested extra outputs and points the options at them."""
        wide = np.float64 if self.x.dtype == np.float64 else np.float32
        dtypes = {"lse": wide, "z_loss": wide, "argmax": np.int64, "correct": np.int32}
        codes = {np.dtype(np.float32): C.DTYPE_F32, np.dtype(np.float64): C.DTYPE_F64,
                 np.dtype(np.int32): C.DTYPE_I32, np.dtype(np.int64): C.DTYPE_I64}
        self.extras = {}
        for name in names:
            a = np.empty(self.element_shape(), dtype=dtypes[name])
            d = T.describe(a, codes[a.dtype])
            self.keep.append(d)
            setattr(self.opts, "out_" + name, ctypes.pointer(d))
            self.extras[name] = a

    def extras_result(self):
        out = dict(self.extras)
        if "correct" in out:
            out["correct"] = out["correct"].astype(bool)
        return out

    def element_shape(self):
        return self.x.shape[:1] + self.x.shape[2:] if self.x.ndim >= 2 else ()

    def _set_target(self, target):
        t = T.native(T.as_array(target))
        self.soft = t.shape == self.x.shape
        if self.soft:
            code = T.float_code(t.dtype)
            if code is None:
                raise_binding_error("SOFTCE_ERROR_DTYPE", "a target shaped like input is a "
                                    f"soft target and must be float, not {t.dtype}")
        else:
            if T.int_code(t.dtype) is None:  # int32/int64 first: the checks below are slow
                if t.dtype.kind not in "iu" or T.is_bfloat16(t.dtype):
                    raise_binding_error("SOFTCE_ERROR_DTYPE", "a class-index target must be an "
                                        f"integer array, not {t.dtype} (shape {t.shape})")
                t = T.to_int64(t, "target")
            code = T.int_code(t.dtype)
        self.target = T.input_view(t)
        self.t_t = T.describe(self.target, code)

    def _weight(self, weight, what, any_float=False):
        """A float array for weight-like inputs; any_float: every libsoftce float dtype is
        passed as it is (sample_weight, smoothing_prior), else only f32/f64 (weight)."""
        w = T.native(T.as_array(weight))
        if w.dtype in (np.float32, np.float64) or (any_float and T.float_code(w.dtype)):
            return w
        if w.dtype.kind in ("fiub" if any_float else "fiu") or T.is_bfloat16(w.dtype):
            return T.to_float(w, np.float64 if self.x.dtype == np.float64 else np.float32)
        raise_binding_error("SOFTCE_ERROR_DTYPE", f"{what} must be float, not {w.dtype}")

    def describe_input(self, a):
        a = T.input_view(a)
        self.keep.append(a)
        return T.describe(a, T.float_code(a.dtype))

    def loss_shape(self):
        return () if self.reduction != "none" else self.element_shape()

    def grad_loss(self, grad):
        """Descriptor of the upstream gradient (None = 1); a scalar broadcasts to the loss."""
        if grad is None:
            return None
        g = T.native(T.as_array(grad))
        if T.float_code(g.dtype) is None:
            if g.dtype.kind not in "biu":
                raise_binding_error("SOFTCE_ERROR_DTYPE", f"grad must be float, not {g.dtype}")
            g = g.astype(np.float64)
        if g.ndim == 0:
            g = np.broadcast_to(g, self.loss_shape())  # zero strides: no copy
        return self.describe_input(g)

    def new_output(self, shape):
        a = np.empty(shape, dtype=self.x.dtype)
        return a, T.describe(a, T.float_code(a.dtype))

    def grad_input(self, out):
        """(result, descriptor) receiving the input gradient: a new array like the input, or
        out itself (a numpy array, or a DLPack exporter written through a view)."""
        if out is None:
            a = np.empty_like(self.x)
            return a, T.describe(a, T.float_code(a.dtype))
        a, code = T.output(out, "out")
        self.keep.append(a)
        return out, T.describe(a, code)


_OPTION_DOC = """
    Options added in 1.1 (keyword only; docs/numerics.md has the formulas):
      z_loss: coefficient (>= 0) of the z-loss term z_loss * lse**2 per element (default 0).
      softcap: None (off) or c > 0: logits become c * tanh(logits / c) (after logit_scale).
      logit_scale: a > 0 multiplying the logits first (inverse temperature; default 1).
      sample_weight: None or an array of the element shape (input shape without the class
        axis; a scalar applies to all): multiplies each element's loss; 0 masks it out.
      denominator: what 'mean' divides by: 'auto' (PyTorch's rule), 'valid' (number of counted
        elements), 'weights' (sum of the applied weights), 'elements' (all elements) or a
        number > 0.
      empty: a mean over a zero denominator gives 'nan' (PyTorch), 'zero' (loss and gradient
        0) or 'error' (SoftceError SOFTCE_ERROR_EMPTY_MEAN).
      smoothing: 'uniform' (eps / C on every class) or 'others' (eps / (C - 1) on the other
        classes).
      smoothing_prior: None or a (C,) array: smoothing moves mass eps toward it ('uniform').
      kl: True returns KL(q || softmax) = cross-entropy - entropy(q) (same input gradient).
"""

_EXTRAS_DOC = """
    extras: names among 'lse', 'argmax', 'correct', 'z_loss': per-element extra outputs,
      returned as a trailing dict {name: array of the element shape} when not empty (lse and
      z_loss float32, float64 for float64 input; argmax int64; correct bool).
"""


def _is(value, default):
    """value is exactly the default scalar (a plain Python number or string, not an array)."""
    return type(value) is type(default) and value == default


def _options(z_loss, softcap, logit_scale, sample_weight, denominator, empty, smoothing,
             smoothing_prior, kl):
    """The 1.1 keywords as a dict, or None when all are the defaults (the options keep
    softce_options_init's values: the common call skips their checks)."""
    if (softcap is None and sample_weight is None and smoothing_prior is None and kl is False
            and _is(z_loss, 0.0) and _is(logit_scale, 1.0) and _is(denominator, "auto")
            and _is(empty, "nan") and _is(smoothing, "uniform")):
        return None
    return dict(z_loss=z_loss, softcap=softcap, logit_scale=logit_scale,
                sample_weight=sample_weight, denominator=denominator, empty=empty,
                smoothing=smoothing, smoothing_prior=smoothing_prior, kl=kl)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0, *, num_threads=0, z_loss=0.0, softcap=None,
                  logit_scale=1.0, sample_weight=None, denominator="auto", empty="nan",
                  smoothing="uniform", smoothing_prior=None, kl=False, extras=()):
    c = _Call(input, num_threads)
    c.set_loss_options(target, weight, ignore_index, reduction, label_smoothing,
                       _options(z_loss, softcap, logit_scale, sample_weight, denominator,
                                empty, smoothing, smoothing_prior, kl))
    names = extra_names(extras)
    c.set_extras(names)
    loss, loss_t = c.new_output(c.loss_shape())
    check(C.lib().softce_forward(ctypes.byref(c.opts), ctypes.byref(c.x_t),
                                 ctypes.byref(c.t_t), ctypes.byref(loss_t), None))
    return (loss, c.extras_result()) if names else loss


cross_entropy.__doc__ = (
    """Loss as F.cross_entropy: a 0-d array for 'mean'/'sum', element-shaped for 'none';
    (loss, extras) when extras are requested.
""" + _OPTION_DOC + _EXTRAS_DOC)


def cross_entropy_forward_backward(input, target, weight=None, ignore_index=-100,
                                   reduction="mean", label_smoothing=0.0, *, grad_out=None,
                                   num_threads=0, out=None, z_loss=0.0, softcap=None,
                                   logit_scale=1.0, sample_weight=None, denominator="auto",
                                   empty="nan", smoothing="uniform", smoothing_prior=None,
                                   kl=False, extras=()):
    c = _Call(input, num_threads)
    c.set_loss_options(target, weight, ignore_index, reduction, label_smoothing,
                       _options(z_loss, softcap, logit_scale, sample_weight, denominator,
                                empty, smoothing, smoothing_prior, kl))
    names = extra_names(extras)
    c.set_extras(names)
    g_t = c.grad_loss(grad_out)
    loss, loss_t = c.new_output(c.loss_shape())
    grad, grad_t = c.grad_input(out)
    check(C.lib().softce_forward_backward(ctypes.byref(c.opts), ctypes.byref(c.x_t),
                                          ctypes.byref(c.t_t), _ref(g_t), ctypes.byref(loss_t),
                                          ctypes.byref(grad_t)))
    return (loss, grad, c.extras_result()) if names else (loss, grad)


cross_entropy_forward_backward.__doc__ = (
    """(loss, grad_input) in one fused pass; grad_out is the upstream gradient (None = 1).

    out: optional float array shaped like input that receives grad_input (may be input itself:
    the gradient then overwrites the logits in place, with no copy).
    (loss, grad_input, extras) when extras are requested.
""" + _OPTION_DOC + _EXTRAS_DOC)


def cross_entropy_backward(input, target, grad_output=None, weight=None, ignore_index=-100,
                           reduction="mean", label_smoothing=0.0, *, target_grad=False,
                           num_threads=0, out=None, z_loss=0.0, softcap=None, logit_scale=1.0,
                           sample_weight=None, denominator="auto", empty="nan",
                           smoothing="uniform", smoothing_prior=None, kl=False):
    c = _Call(input, num_threads)
    c.set_loss_options(target, weight, ignore_index, reduction, label_smoothing,
                       _options(z_loss, softcap, logit_scale, sample_weight, denominator,
                                empty, smoothing, smoothing_prior, kl))
    g_t = c.grad_loss(grad_output)
    grad, grad_t = c.grad_input(out)
    tgrad = tgrad_t = None
    if target_grad:
        # Shaped like input, in the target's dtype when it is a float; the library rejects it
        # for class-index targets.
        dtype = c.target.dtype if T.float_code(c.target.dtype) else c.x.dtype
        tgrad = np.empty(c.x.shape, dtype=dtype)
        tgrad_t = T.describe(tgrad, T.float_code(dtype))
    check(C.lib().softce_backward(ctypes.byref(c.opts), ctypes.byref(c.x_t), ctypes.byref(c.t_t),
                                  _ref(g_t), None, ctypes.byref(grad_t), _ref(tgrad_t)))
    return (grad, tgrad) if target_grad else grad


cross_entropy_backward.__doc__ = (
    """grad_input, or (grad_input, grad_target) when target_grad=True (soft targets only).

    The options must be those of the forward call.
""" + _OPTION_DOC)


def log_softmax(input, *, num_threads=0, out=None):
    """log_softmax along the class axis (dim 1, or dim 0 for 1-D input)."""
    c = _Call(input, num_threads)
    res, res_t = c.grad_input(out)
    check(C.lib().softce_log_softmax(ctypes.byref(c.opts), ctypes.byref(c.x_t),
                                     ctypes.byref(res_t)))
    return res


def version():
    """Version string of the loaded libsoftce, e.g. "1.0.0"."""
    return C.lib().softce_version_string().decode("ascii")


def library_path():
    """The path (or loader name) libsoftce was loaded from."""
    return C.library_path()
