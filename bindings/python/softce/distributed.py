"""Vocabulary-sharded cross-entropy over torch.distributed (tensor parallelism).

Each rank of a process group holds the logits of the classes [class_offset, class_offset + Cs)
of num_classes. ``cross_entropy_sharded`` computes, on every rank, the loss of the whole
problem (the same value everywhere) and, in backward, the gradient of the rank's own shard:

    loss = cross_entropy_sharded(logits_shard, target, class_offset, num_classes)
    loss.backward()          # logits_shard.grad: this rank's columns of the full gradient

It runs the libsoftce shard primitives through ctypes: softce_shard_stats on the local shard,
one ``torch.distributed.all_gather`` of the per-element statistics (f64, SHARD_STATS per
element), softce_shard_combine in rank order (deterministic: the same bits on every rank),
then softce_shard_finalize / softce_shard_backward. docs/sharding.md has the math.

Targets: class indices (int64/int32, element-shaped, GLOBAL indices, the same on every rank)
or probabilities (float, this rank's slice, shaped like logits_shard). ``weight`` and
``smoothing_prior`` are this rank's (Cs) slices. CPU tensors (gloo); float32, float64,
float16 and bfloat16 logits.
"""

import ctypes

import numpy as np
import torch
import torch.distributed as dist

from . import _ctypes as C
from ._errors import check, raise_binding_error
from ._tensor import describe

_REDUCTIONS = {"mean": 1, "sum": 2, "none": 3}
_SMOOTHING = {"uniform": 0, "others": 1}
_DENOMINATORS = {"auto": 0, "valid": 1, "weights": 2, "elements": 3, "value": 4}
_EMPTY = {"nan": 0, "zero": 1, "error": 2}
_FLOAT_CODES = {torch.float32: C.DTYPE_F32, torch.float64: C.DTYPE_F64,
                torch.float16: C.DTYPE_F16, torch.bfloat16: C.DTYPE_BF16}
_INT_CODES = {torch.int32: C.DTYPE_I32, torch.int64: C.DTYPE_I64}


def _view(t, what):
    """(numpy view of a CPU tensor's memory, softce dtype code); bfloat16 as its bits."""
    if t.device.type != "cpu":
        raise_binding_error("SOFTCE_ERROR_DTYPE", f"{what} must be a CPU tensor, not {t.device}")
    t = t.detach().resolve_neg()  # a lazily negated tensor's memory holds -values: a copy
    if any(s < 0 for s in t.stride()):
        t = t.contiguous()
    if t.dtype in _INT_CODES:
        return t.numpy(), _INT_CODES[t.dtype]
    code = _FLOAT_CODES.get(t.dtype)
    if code is None:
        raise_binding_error("SOFTCE_ERROR_DTYPE", f"{what}: unsupported dtype {t.dtype}")
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy(), code
    return t.numpy(), code


class _Call:
    """Descriptors and options of one sharded call; keeps every array alive."""

    def __init__(self, params):
        self.keep = []
        self.opts = C.new_options()
        o = self.opts
        o.reduction = _choice(params["reduction"], "reduction", _REDUCTIONS)
        o.ignore_index = int(params["ignore_index"])
        o.label_smoothing = float(params["label_smoothing"])
        o.z_loss = float(params["z_loss"])
        o.softcap = float(params["softcap"] or 0.0)
        o.logit_scale = float(params["logit_scale"])
        o.smoothing = _choice(params["smoothing"], "smoothing", _SMOOTHING)
        o.denominator = _choice(params["denominator"], "denominator", _DENOMINATORS)
        o.denominator_value = float(params["denominator_value"] or 0.0)
        o.empty = _choice(params["empty"], "empty", _EMPTY)
        o.flags = 1 if params["kl"] else 0
        o.num_threads = int(params["num_threads"])
        for field in ("weight", "smoothing_prior", "sample_weight"):
            if params[field] is not None:
                setattr(o, field, ctypes.pointer(self.tensor(params[field], field)))

    def tensor(self, t, what):
        a, code = _view(t, what)
        self.keep.append(a)
        d = describe(a, code)
        self.keep.append(d)
        return d

    def array(self, a, code):
        self.keep.append(a)
        d = describe(a, code)
        self.keep.append(d)
        return d


def _choice(value, name, table):
    if value not in table:
        raise_binding_error("SOFTCE_ERROR_OPTION", f"{name} = {value!r} is not one of "
                            f"{', '.join(map(repr, table))}")
    return table[value]


def _element_shape(x):
    return tuple(s for k, s in enumerate(x.shape) if k != (0 if x.dim() == 1 else 1))


def _stats_ptr(call, a):
    return ctypes.byref(call.array(a, C.DTYPE_F64))


def _combined_stats(call, x, target, class_offset, num_classes, group):
    """Local statistics, all-gathered and combined in rank order (numpy f64)."""
    lib = C.lib()
    stats = np.zeros(_element_shape(x) + (C.SHARD_STATS,), dtype=np.float64)
    error = None
    try:
        check(lib.softce_shard_stats(ctypes.byref(call.opts),
                                     ctypes.byref(call.tensor(x, "input")),
                                     ctypes.byref(call.tensor(target, "target")),
                                     int(class_offset), int(num_classes), _stats_ptr(call, stats)))
    except ValueError as e:  # SoftceError (and the binding's own argument errors)
        error = e
    # The ranks agree on failure before the all-gather: a rank with bad arguments must not
    # leave the others waiting in it.
    failed = torch.tensor([0 if error is None else 1], dtype=torch.int32)
    dist.all_reduce(failed, op=dist.ReduceOp.MAX, group=group)
    if error is not None:
        raise error
    if failed.item():
        raise_binding_error("SOFTCE_ERROR_INTERNAL", "cross_entropy_sharded failed on another "
                            "rank (its exception has the detail)")
    local = torch.from_numpy(stats)
    parts = [torch.empty_like(local) for _ in range(dist.get_world_size(group))]
    dist.all_gather(parts, local, group=group)
    acc = parts[0].numpy().copy()
    for part in parts[1:]:  # rank order: every rank gets bitwise the same statistics
        check(lib.softce_shard_combine(_stats_ptr(call, acc), _stats_ptr(call, part.numpy()),
                                       _stats_ptr(call, acc)))
    return acc


class _ShardedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, target, class_offset, num_classes, group, params):
        call = _Call(params)
        acc = _combined_stats(call, x, target, class_offset, num_classes, group)
        none = params["reduction"] == "none"
        loss = np.zeros(_element_shape(x) if none else (), dtype=np.float64)
        check(C.lib().softce_shard_finalize(
            ctypes.byref(call.opts), ctypes.byref(call.tensor(target, "target")),
            _stats_ptr(call, acc), ctypes.byref(call.array(loss, C.DTYPE_F64)), None))
        ctx.save_for_backward(x, target)
        ctx.acc, ctx.class_offset, ctx.num_classes, ctx.params = acc, class_offset, num_classes, params
        return torch.from_numpy(loss).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        x, target = ctx.saved_tensors
        call = _Call(ctx.params)
        soft = target.is_floating_point()
        want_target = soft and ctx.needs_input_grad[1]
        gx = torch.empty(x.shape, dtype=x.dtype) if ctx.needs_input_grad[0] else None
        gt = torch.empty(target.shape, dtype=target.dtype) if want_target else None
        if gx is None and gt is None:
            return (None,) * 6
        g = grad_out.detach().to(torch.float64).contiguous()
        check(C.lib().softce_shard_backward(
            ctypes.byref(call.opts), ctypes.byref(call.tensor(x, "input")),
            ctypes.byref(call.tensor(target, "target")), int(ctx.class_offset),
            int(ctx.num_classes), _stats_ptr(call, ctx.acc),
            ctypes.byref(call.tensor(g, "grad_output")),
            ctypes.byref(call.tensor(gx, "grad_input")) if gx is not None else None,
            ctypes.byref(call.tensor(gt, "grad_target")) if gt is not None else None))
        return gx, gt, None, None, None, None


def cross_entropy_sharded(input_shard, target, class_offset, num_classes, *, group=None,
                          weight=None, ignore_index=-100, reduction="mean",
                          label_smoothing=0.0, z_loss=0.0, softcap=None, logit_scale=1.0,
                          sample_weight=None, smoothing="uniform", smoothing_prior=None,
                          kl=False, denominator="auto", denominator_value=None, empty="nan",
                          num_threads=0):
    """Cross-entropy of logits whose class axis is sharded across the ranks of ``group``.

    Args:
        input_shard: this rank's logits, (Cs), (N, Cs) or (N, Cs, d1..dk) (CPU tensor).
        target: class indices (GLOBAL, element-shaped, the same on every rank) or this rank's
            slice of the target probabilities (shaped like input_shard).
        class_offset: global index of this rank's first class.
        num_classes: number of classes of the whole problem; the ranks' shards must cover
            [0, num_classes) exactly once.
        group: the torch.distributed process group (None: the default group).
        weight, smoothing_prior: this rank's (Cs) slices, or None.
        ignore_index, reduction, label_smoothing: as torch.nn.functional.cross_entropy.
        z_loss, softcap, logit_scale, sample_weight, smoothing, kl, denominator,
        denominator_value, empty: the libsoftce 1.1 options (docs/numerics.md).

    Returns:
        The loss of the whole problem (the same on every rank), differentiable w.r.t.
        input_shard (and a soft target slice).
    """
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError("cross_entropy_sharded needs an initialised torch.distributed group")
    params = dict(weight=weight, ignore_index=ignore_index, reduction=reduction,
                  label_smoothing=label_smoothing, z_loss=z_loss, softcap=softcap,
                  logit_scale=logit_scale, sample_weight=sample_weight, smoothing=smoothing,
                  smoothing_prior=smoothing_prior, kl=kl, denominator=denominator,
                  denominator_value=denominator_value, empty=empty, num_threads=num_threads)
    return _ShardedCrossEntropy.apply(input_shard, target, int(class_offset), int(num_classes),
                                      group, params)
