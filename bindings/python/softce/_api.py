"""The public functions: PyTorch-named wrappers over the libsoftce entry points."""

import ctypes
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


class _Call:
    """The operands of one call as descriptors, the options, and the arrays they point into."""

    def __init__(self, input, num_threads):
        self.x, code = T.float_input(input, "input")
        self.x_t = T.describe(self.x, code)
        self.opts = C.Options()
        C.lib().softce_options_init(ctypes.byref(self.opts))
        self.opts.num_threads = _int_option(num_threads, "num_threads", _I32)
        self.keep = []  # arrays whose memory the descriptors point into

    def set_loss_options(self, target, weight, ignore_index, reduction, label_smoothing):
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
            self.w_t = self.describe_input(self._weight(weight))
            self.opts.weight = ctypes.pointer(self.w_t)

    def _set_target(self, target):
        t = T.native(T.as_array(target))
        self.soft = t.shape == self.x.shape
        if self.soft:
            code = T.float_code(t.dtype)
            if code is None:
                raise_binding_error("SOFTCE_ERROR_DTYPE", "a target shaped like input is a "
                                    f"soft target and must be float, not {t.dtype}")
        else:
            if t.dtype.kind not in "iu" or T.is_bfloat16(t.dtype):
                raise_binding_error("SOFTCE_ERROR_DTYPE", "a class-index target must be an "
                                    f"integer array, not {t.dtype} (shape {t.shape})")
            if T.int_code(t.dtype) is None:
                t = T.to_int64(t, "target")
            code = T.int_code(t.dtype)
        self.target = T.input_view(t)
        self.t_t = T.describe(self.target, code)

    def _weight(self, weight):
        w = T.native(T.as_array(weight))
        if w.dtype in (np.float32, np.float64):
            return w
        if w.dtype.kind in "fiu" or T.is_bfloat16(w.dtype):
            return T.to_float(w, np.float64 if self.x.dtype == np.float64 else np.float32)
        raise_binding_error("SOFTCE_ERROR_DTYPE", f"weight must be float, not {w.dtype}")

    def describe_input(self, a):
        a = T.input_view(a)
        self.keep.append(a)
        return T.describe(a, T.float_code(a.dtype))

    def loss_shape(self):
        if self.reduction != "none":
            return ()
        return self.x.shape[:1] + self.x.shape[2:] if self.x.ndim >= 2 else ()

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


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0, *, num_threads=0):
    """Loss as F.cross_entropy: a 0-d array for 'mean'/'sum', element-shaped for 'none'."""
    c = _Call(input, num_threads)
    c.set_loss_options(target, weight, ignore_index, reduction, label_smoothing)
    loss, loss_t = c.new_output(c.loss_shape())
    check(C.lib().softce_forward(ctypes.byref(c.opts), ctypes.byref(c.x_t),
                                 ctypes.byref(c.t_t), ctypes.byref(loss_t), None))
    return loss


def cross_entropy_forward_backward(input, target, weight=None, ignore_index=-100,
                                   reduction="mean", label_smoothing=0.0, *, grad_out=None,
                                   num_threads=0, out=None):
    """(loss, grad_input) in one fused pass; grad_out is the upstream gradient (None = 1).

    out: optional float array shaped like input that receives grad_input (may be input itself:
    the gradient then overwrites the logits in place, with no copy).
    """
    c = _Call(input, num_threads)
    c.set_loss_options(target, weight, ignore_index, reduction, label_smoothing)
    g_t = c.grad_loss(grad_out)
    loss, loss_t = c.new_output(c.loss_shape())
    grad, grad_t = c.grad_input(out)
    check(C.lib().softce_forward_backward(ctypes.byref(c.opts), ctypes.byref(c.x_t),
                                          ctypes.byref(c.t_t), _ref(g_t), ctypes.byref(loss_t),
                                          ctypes.byref(grad_t)))
    return loss, grad


def cross_entropy_backward(input, target, grad_output=None, weight=None, ignore_index=-100,
                           reduction="mean", label_smoothing=0.0, *, target_grad=False,
                           num_threads=0, out=None):
    """grad_input, or (grad_input, grad_target) when target_grad=True (soft targets only)."""
    c = _Call(input, num_threads)
    c.set_loss_options(target, weight, ignore_index, reduction, label_smoothing)
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
