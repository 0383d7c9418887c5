"""PyTorch drop-in: softce.torch.cross_entropy and softce.torch.CrossEntropyLoss.

Replace torch.nn.functional.cross_entropy by softce.torch.cross_entropy, or
torch.nn.CrossEntropyLoss by softce.torch.CrossEntropyLoss: same arguments, defaults and results,
computed by libsoftce on the tensors' own memory (data_ptr + strides, no copy), with autograd.

How a call is run (docs/pytorch.md):
- nothing needs a gradient (torch.no_grad(), or no operand requires grad): softce_forward.
- the input requires grad and the target does not (training): the fused path. The forward runs
  softce_forward_backward, which writes the loss and the gradient for an upstream gradient of 1
  in one pass over the logits, and keeps that gradient; the backward only scales it by
  grad_output (and returns it as is when grad_output is 1). The logits are not kept for the
  backward. inplace=True writes that gradient over the logits themselves (no second buffer)
  when autograd allows it; see cross_entropy().
- a probability target requires grad, or the input is float16: softce_forward also writes the
  log-sum-exp of each element (float64), which is kept with the logits and the target; the
  backward is one softce_backward call (grad_input and grad_target) that reuses it and takes
  grad_output itself (a float16 gradient for an upstream gradient of 1, scaled afterwards,
  would lose what loss scaling is for).
- what libsoftce cannot take (tensors not on the CPU, a non-float input, more than 8 dimensions,
  a weight that requires grad, tensor subclasses with __torch_function__, a class axis of size
  0 without a 1.1 option) goes to torch.nn.functional.cross_entropy unchanged.

Import this module explicitly (import softce.torch); import softce does not import torch.
"""

import ctypes
import operator

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from . import _ctypes as C
from ._api import _options, extra_names, option_fields
from ._errors import check, raise_binding_error

__all__ = ["CrossEntropyLoss", "cross_entropy"]

_FLOAT_CODES = {torch.float32: C.DTYPE_F32, torch.float64: C.DTYPE_F64,
                torch.float16: C.DTYPE_F16, torch.bfloat16: C.DTYPE_BF16}
_INT_CODES = {torch.int32: C.DTYPE_I32, torch.int64: C.DTYPE_I64}
_OTHER_INTS = (torch.uint8, torch.int8, torch.int16)
_TENSOR_SIZE = ctypes.sizeof(C.Tensor)
_OPTIONS_SIZE = ctypes.sizeof(C.Options)
_I64 = (-(2**63), 2**63)


def _lib():
    return C.lib()


def describe(t, code):
    """A softce_tensor pointing into t's memory (data_ptr, strides in elements). Keep t alive."""
    shape, strides = t.shape, t.stride()
    n = len(shape)
    if 1 in shape or 0 in shape:
        strides = _normal_strides(shape, strides)
    d = C.Tensor(_TENSOR_SIZE, code, n, 0, t.data_ptr())
    d.shape[:n] = shape
    d.strides[:n] = strides
    return d


def _normal_strides(shape, strides):
    """A size-1 dimension is never stepped over (stride 0); an empty tensor addresses nothing
    (contiguous strides)."""
    if 0 not in shape:
        return [0 if n == 1 else s for n, s in zip(shape, strides)]
    out, step = [0] * len(shape), 1
    for k in range(len(shape) - 1, -1, -1):
        out[k] = step
        step *= max(shape[k], 1)
    return out


def _ref(d):
    return None if d is None else ctypes.byref(d)


def _plain(t):
    """t without a lazy negation bit (the library reads raw memory)."""
    return t.resolve_neg() if t.is_neg() else t


class _Plan:
    """Options, target and weight of one call; builds descriptors and calls the library."""

    def __init__(self, input, target, weight, ignore_index, reduction, label_smoothing,
                 num_threads, opt=None, extras=()):
        self.dtype = input.dtype
        self.class_dim = 1 if input.dim() >= 2 else 0
        shape = tuple(input.shape)
        self.lse_shape = shape[:1] + shape[2:] if input.dim() >= 2 else ()  # element shape
        self.loss_shape = self.lse_shape if reduction == "none" else ()
        self.opts = self._options(ignore_index, reduction, label_smoothing, num_threads)
        self.soft = tuple(target.shape) == shape
        self.target, self.t_code = self._target(_plain(target), ignore_index)
        self.weight = None
        if weight is not None:
            self.weight = self._weight(weight)
            self.w_t = describe(self.weight, _FLOAT_CODES[self.weight.dtype])
            self.opts.weight = ctypes.pointer(self.w_t)
        self.sample_weight = self.prior = None
        if opt:
            self._new_options(**opt)
        self.extras = {}
        for name in extras:
            self._extra(name)

    def _new_options(self, sample_weight=None, smoothing_prior=None, **scalars):
        for field, value in option_fields(**scalars).items():
            setattr(self.opts, field, value)
        if sample_weight is not None:
            sw = self._float_operand(sample_weight, "sample_weight")
            if sw.dim() == 0:  # a scalar applies to every element (zero strides: no copy)
                sw = sw.expand(self.lse_shape)
            self.sample_weight = sw
            self.sw_t = describe(sw, _FLOAT_CODES[sw.dtype])
            self.opts.sample_weight = ctypes.pointer(self.sw_t)
        if smoothing_prior is not None:
            self.prior = self._float_operand(smoothing_prior, "smoothing_prior")
            self.prior_t = describe(self.prior, _FLOAT_CODES[self.prior.dtype])
            self.opts.smoothing_prior = ctypes.pointer(self.prior_t)

    def _float_operand(self, t, what):
        """sample_weight / smoothing_prior: a CPU tensor of any float dtype (others are
        converted); no gradient flows to it, so one that requires grad is refused."""
        if not isinstance(t, torch.Tensor):
            t = torch.as_tensor(t)
        if t.requires_grad and torch.is_grad_enabled():
            raise_binding_error("SOFTCE_ERROR_OPTION", f"{what} requires grad: softce computes "
                                f"no gradient for it (pass {what}.detach())")
        if t.device.type != "cpu" or t.layout != torch.strided:
            raise_binding_error("SOFTCE_ERROR_OPTION", f"{what} must be a strided CPU tensor, "
                                f"not {t.device.type} / {t.layout}")
        t = _plain(t.detach())
        if t.dtype not in _FLOAT_CODES:
            if t.is_complex():
                raise_binding_error("SOFTCE_ERROR_DTYPE", f"{what} must be real, not {t.dtype}")
            t = t.to(torch.float64 if self.dtype == torch.float64 else torch.float32)
        return t

    def _extra(self, name):
        """Allocates one extra output (written by the forward) and points the options at it."""
        wide = torch.float64 if self.dtype == torch.float64 else torch.float32
        dtype = {"lse": wide, "z_loss": wide, "argmax": torch.int64,
                 "correct": torch.int32}[name]
        codes = {torch.float32: C.DTYPE_F32, torch.float64: C.DTYPE_F64,
                 torch.int32: C.DTYPE_I32, torch.int64: C.DTYPE_I64}
        t = torch.empty(self.lse_shape, dtype=dtype)
        d = describe(t, codes[dtype])
        setattr(self.opts, "out_" + name, ctypes.pointer(d))
        self.extras[name] = t

    def extras_result(self):
        out = dict(self.extras)
        if "correct" in out:
            out["correct"] = out["correct"].bool()
        return out

    def clear_extras(self):
        """softce_backward refuses the extra outputs (they are written by the forward)."""
        for name in ("lse", "argmax", "correct", "z_loss"):
            setattr(self.opts, "out_" + name, None)

    @staticmethod
    def _options(ignore_index, reduction, label_smoothing, num_threads):
        """softce_options with every field set (what softce_options_init would start from)."""
        red = C.REDUCTIONS.get(reduction) if isinstance(reduction, str) else None
        if red is None:
            raise_binding_error("SOFTCE_ERROR_OPTION", f"{reduction!r} is not a valid value "
                                "for reduction ('mean', 'sum' or 'none')")
        ignore_index = operator.index(ignore_index)
        if not _I64[0] <= ignore_index < _I64[1]:
            raise_binding_error("SOFTCE_ERROR_OPTION", f"ignore_index = {ignore_index} does "
                                "not fit int64")
        threads = torch.get_num_threads() if num_threads is None else int(num_threads)
        threads = max(min(threads, 2**31 - 1), -1)  # -1: still refused by the library
        o = C.Options(_OPTIONS_SIZE, red, ignore_index, float(label_smoothing), None,
                      threads, 0)
        o.logit_scale = 1.0  # the only 1.1 field whose default is not 0
        return o

    def _target(self, target, ignore_index):
        if self.soft:
            code = _FLOAT_CODES.get(target.dtype)
            if code is None:
                raise_binding_error("SOFTCE_ERROR_DTYPE", "a target shaped like the input "
                                    "holds class probabilities and must be floating point, "
                                    f"not {target.dtype}")
            if ignore_index >= 0:  # as torch.nn.functional.cross_entropy
                raise_binding_error("SOFTCE_ERROR_OPTION", "ignore_index is not supported "
                                    "for floating point (probability) targets")
            return target, code
        if target.dtype in _OTHER_INTS:
            target = target.to(torch.int64)
        code = _INT_CODES.get(target.dtype)
        if code is None:
            raise_binding_error("SOFTCE_ERROR_DTYPE", "a class-index target must be an integer "
                                f"tensor (int64 or int32), not {target.dtype}")
        return target, code

    def _weight(self, weight):
        w = _plain(weight.detach())
        if w.dtype in (torch.float32, torch.float64):
            return w
        if w.is_floating_point():
            return w.to(torch.float64 if self.dtype == torch.float64 else torch.float32)
        raise_binding_error("SOFTCE_ERROR_DTYPE", f"weight must be floating point, not "
                            f"{w.dtype}")

    def new_loss(self):
        return torch.empty(self.loss_shape, dtype=self.dtype)

    def new_lse(self):
        """The log-sum-exp kept for softce_backward: float64 for every input dtype (rounded to
        float32 it would put |lse| 2^-24 into every log-probability: 3e-4 of the gradient
        with logits near 5000). A requested 'lse' extra is filled from it (forward)."""
        return torch.empty(self.lse_shape, dtype=torch.float64)

    def _x(self, x):
        return describe(x, _FLOAT_CODES[x.dtype])

    def _t(self, t):
        return describe(t, self.t_code)

    def forward(self, x, loss, lse=None):
        both = lse is not None and "lse" in self.extras
        if both:  # the library takes one of the two: the extra is copied from the kept one
            self.opts.out_lse = None
        lse_t = None if lse is None else self._x(lse)
        check(_lib().softce_forward(ctypes.byref(self.opts), ctypes.byref(self._x(x)),
                                    ctypes.byref(self._t(self.target)),
                                    ctypes.byref(self._x(loss)), _ref(lse_t)))
        if both:
            self.extras["lse"].copy_(lse)

    def forward_backward(self, x, loss, grad):
        x_t = self._x(x)
        g_t = x_t if grad is x else self._x(grad)  # in place: exactly the same descriptor
        check(_lib().softce_forward_backward(ctypes.byref(self.opts), ctypes.byref(x_t),
                                             ctypes.byref(self._t(self.target)), None,
                                             ctypes.byref(self._x(loss)), ctypes.byref(g_t)))

    def backward(self, x, target, grad_loss, lse, grad_x, grad_t):
        descs = [None if a is None else self._x(a) for a in (grad_loss, lse, grad_x, grad_t)]
        check(_lib().softce_backward(ctypes.byref(self.opts), ctypes.byref(self._x(x)),
                                     ctypes.byref(self._t(target)), *map(_ref, descs)))

    def release(self):
        """Drops the target (the backward of the soft path gets it from autograd)."""
        self.target = None


def _scale(grad, grad_loss, class_dim):
    """grad (computed for an upstream gradient of 1) times the actual upstream gradient."""
    if grad_loss.dim() == 0:
        return grad if grad_loss.item() == 1 else grad * grad_loss
    if bool((grad_loss == 1).all()):
        return grad
    return grad * grad_loss.unsqueeze(class_dim)


class _FusedCrossEntropy(torch.autograd.Function):
    """Loss and input gradient in one pass in forward; backward scales the kept gradient."""

    @staticmethod
    def forward(ctx, input, plan, inplace):
        ctx.set_materialize_grads(False)
        ctx.class_dim = plan.class_dim
        loss = plan.new_loss()
        grad = input if inplace else torch.empty_like(input)
        plan.forward_backward(input, loss, grad)
        ctx.save_for_backward(grad)
        if inplace:
            ctx.mark_dirty(input)
            return loss, input
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss, grad_overwritten=None):
        if grad_overwritten is not None:
            raise RuntimeError("softce.torch.cross_entropy(inplace=True) overwrote the logits "
                               "with their gradient: they cannot be used in another "
                               "differentiable computation; use inplace=False")
        (grad,) = ctx.saved_tensors
        if grad_loss is None:
            return None, None, None
        return _scale(grad, grad_loss, ctx.class_dim), None, None


class _CrossEntropyWithTargetGrad(torch.autograd.Function):
    """Forward keeps the log-sum-exp; backward gives grad_input and grad_target in one call
    (a probability target that requires grad, and float16 input)."""

    @staticmethod
    def forward(ctx, input, target, plan):
        ctx.set_materialize_grads(False)
        loss, lse = plan.new_loss(), plan.new_lse()
        plan.forward(input, loss, lse)
        ctx.save_for_backward(input, plan.target, lse)
        plan.release()
        plan.clear_extras()
        ctx.plan = plan
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss):
        if grad_loss is None:
            return None, None, None
        input, target, lse = ctx.saved_tensors
        need_x, need_t = ctx.needs_input_grad[:2]
        grad_x = torch.empty_like(input) if need_x else None
        grad_t = torch.empty_like(target) if need_t else None
        ctx.plan.backward(input, target, _plain(grad_loss), lse, grad_x, grad_t)
        return grad_x, grad_t, None


def _handled(input, target, weight):
    """True when libsoftce takes the call; else torch.nn.functional.cross_entropy does
    (which has none of the 1.1 options: cross_entropy() refuses them then)."""
    tensors = (input, target) if weight is None else (input, target, weight)
    for t in tensors:
        if not isinstance(t, torch.Tensor):
            return False  # torch raises its own error
        if t.device.type != "cpu" or t.layout != torch.strided:
            return False
    if torch.overrides.has_torch_function(tensors):
        return False  # tensor subclasses may override torch functions
    if input.dtype not in _FLOAT_CODES or not 1 <= input.dim() <= C.MAX_DIMS:
        return False
    return weight is None or not (weight.requires_grad and torch.is_grad_enabled())


def _may_overwrite(input):
    """True when autograd allows writing the gradient over the logits (mark_dirty)."""
    # Autograd refuses in-place writes to leaves that require grad; a Function that writes
    # into a view may return only that view (it must return the loss too). The check must be
    # complete: once the library has run, the logits are gone.
    if input.is_leaf or input._is_view():
        return False
    dims = sorted((s, n) for s, n in zip(input.stride(), input.shape) if n > 1)
    span = 1
    for stride, n in dims:  # the gradient must not overlap itself
        if stride < span:
            return False
        span = stride * n
    return True


_DEFAULTS = dict(z_loss=0.0, softcap=None, logit_scale=1.0, sample_weight=None,
                 denominator="auto", empty="nan", smoothing="uniform", smoothing_prior=None,
                 kl=False)


def _non_default(opt):
    """Names of the 1.1 options that differ from their defaults."""
    out = []
    for k, v in opt.items():
        d = _DEFAULTS[k]
        if d is None or isinstance(d, str):
            if v is not d and not (isinstance(v, str) and v == d):
                out.append(k)
        elif isinstance(v, torch.Tensor) or isinstance(v, bool) != isinstance(d, bool) \
                or v != d:
            out.append(k)
    return out


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0, *, inplace=False,
                  num_threads=None, z_loss=0.0, softcap=None, logit_scale=1.0,
                  sample_weight=None, denominator="auto", empty="nan", smoothing="uniform",
                  smoothing_prior=None, kl=False, extras=()):
    """torch.nn.functional.cross_entropy computed by libsoftce (same arguments and results).

    Extensions (keyword only):
      inplace: in training, write the input gradient over the logits instead of a new buffer
        (saves one logits-sized allocation and its memory traffic). Used only when autograd
        allows modifying the logits in place (not a leaf, not a view) and the input is not
        float16 (see the module's docstring); the logits
        then hold their gradient, not logits, after the call. Default False.
      num_threads: threads of the library call; None = torch.get_num_threads(), 0 = OpenMP's
        default. Results are bitwise identical for any value.
      z_loss, softcap, logit_scale, sample_weight, denominator, empty, smoothing,
        smoothing_prior, kl: the options added in libsoftce 1.1, as in softce.cross_entropy()
        (docs/pytorch.md, docs/numerics.md). sample_weight and smoothing_prior are tensors
        (or array-likes) that get no gradient: one that requires grad is refused.
      extras: names among 'lse', 'argmax', 'correct', 'z_loss': when not empty the result is
        (loss, {name: tensor of the element shape}); those tensors carry no gradient.
    Raises softce.SoftceError (a ValueError) where the library refuses the arguments.
    """
    if size_average is not None or reduce is not None:
        reduction = torch.nn._reduction.legacy_get_string(size_average, reduce)
    # None when every 1.1 option is at its default (plain Python values): the plan then skips
    # their checks
    opt = _options(z_loss, softcap, logit_scale, sample_weight, denominator, empty, smoothing,
                   smoothing_prior, kl)
    names = extra_names(extras)
    handled = _handled(input, target, weight)
    extended = (_non_default(opt) if opt else []) + (["extras"] if names else [])
    if handled and not extended and input.shape[1 if input.dim() > 1 else 0] == 0:
        handled = False  # no class: libsoftce refuses (E29), PyTorch has a result (NaN, 0)
    if not handled:
        if extended:
            raise_binding_error("SOFTCE_ERROR_OPTION", f"{', '.join(extended)}: only "
                                "libsoftce implements these options, and it cannot take "
                                "this call (tensors not on the CPU or not strided, a "
                                "non-float input, more than 8 dimensions, a weight that "
                                "requires grad or a tensor subclass)")
        return F.cross_entropy(input, target, weight, None, ignore_index, None, reduction,
                               label_smoothing)
    input = _plain(input)
    plan = _Plan(input, target, weight, ignore_index, reduction, label_smoothing, num_threads,
                 opt, names)
    grad_on = torch.is_grad_enabled()
    # float16: a gradient kept for an upstream gradient of 1 would be rounded to float16 before
    # grad_output scales it (a mean over many elements is subnormal there, which loss scaling
    # then magnifies), so its backward is one softce_backward with grad_output itself
    two_calls = plan.soft and target.requires_grad or input.dtype == torch.float16
    if grad_on and two_calls and (input.requires_grad or target.requires_grad):
        loss = _CrossEntropyWithTargetGrad.apply(input, target, plan)
    elif grad_on and input.requires_grad:
        if inplace and _may_overwrite(input):
            loss = _FusedCrossEntropy.apply(input, plan, True)[0]
        else:
            loss = _FusedCrossEntropy.apply(input, plan, False)
    else:
        loss = plan.new_loss()
        plan.forward(input, loss)
    return (loss, plan.extras_result()) if names else loss


class CrossEntropyLoss(torch.nn.CrossEntropyLoss):
    """torch.nn.CrossEntropyLoss computed by libsoftce: same constructor, attributes, results.

    Keyword-only extensions: inplace, num_threads and the 1.1 options z_loss, softcap,
    logit_scale, denominator, empty, smoothing, smoothing_prior (a buffer, like weight) and kl,
    as in softce.torch.cross_entropy(). forward(input, target, *, sample_weight=None,
    extras=()) takes the per-batch ones.
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0, *, inplace=False, num_threads=None,
                 z_loss=0.0, softcap=None, logit_scale=1.0, denominator="auto", empty="nan",
                 smoothing="uniform", smoothing_prior=None, kl=False):
        super().__init__(weight, size_average, ignore_index, reduce, reduction, label_smoothing)
        self.inplace = inplace
        self.num_threads = num_threads
        option_fields(z_loss, softcap, logit_scale, denominator, empty, smoothing, kl)  # check
        self.z_loss = z_loss
        self.softcap = softcap
        self.logit_scale = logit_scale
        self.denominator = denominator
        self.empty = empty
        self.smoothing = smoothing
        self.kl = kl
        if smoothing_prior is not None and not isinstance(smoothing_prior, torch.Tensor):
            smoothing_prior = torch.as_tensor(smoothing_prior)
        self.register_buffer("smoothing_prior", smoothing_prior)

    def forward(self, input, target, *, sample_weight=None, extras=()):
        return cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                             reduction=self.reduction, label_smoothing=self.label_smoothing,
                             inplace=self.inplace, num_threads=self.num_threads,
                             z_loss=self.z_loss, softcap=self.softcap,
                             logit_scale=self.logit_scale, sample_weight=sample_weight,
                             denominator=self.denominator, empty=self.empty,
                             smoothing=self.smoothing, smoothing_prior=self.smoothing_prior,
                             kl=self.kl, extras=extras)
