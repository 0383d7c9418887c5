"""Random cases for the PyTorch differential test: values, options and memory layouts.

A case holds exact values (float64 arrays whose entries are representable in the case's dtypes)
and the strided numpy views handed to softce. Layouts: contiguous, transposed, sliced with
steps (the gaps hold NaN or out-of-range indices, so a read outside the view shows), channels-
last, broadcast (zero stride on dim 0) and reversed (negative strides: the binding copies).
"""

from dataclasses import dataclass, field

import numpy as np

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
I32, I64 = np.dtype(np.int32), np.dtype(np.int64)
CLASS_COUNTS = (1, 2, 3, 5, 8, 15, 16, 17, 33, 64, 100, 257)


@dataclass
class Case:
    dtype: np.dtype
    x: np.ndarray  # exact values, float64
    target: np.ndarray  # exact values (float64 soft, int64 hard)
    tdtype: np.dtype
    soft: bool
    reduction: str
    weight: np.ndarray = None  # exact values, float64
    wdtype: np.dtype = F32
    ignore_index: int = -100
    eps: float = 0.0
    grad: object = None  # None, or exact float64 values (0-d or loss-shaped)
    num_threads: int = 0
    in_place: bool = False
    views: dict = field(default_factory=dict)

    def describe(self):
        kind = f"soft {self.tdtype}" if self.soft else f"hard {self.tdtype}"
        return (f"{self.dtype} x{self.x.shape} {kind} red={self.reduction} "
                f"w={self.weight is not None} "
                f"ii={self.ignore_index} eps={self.eps} grad={self.grad is not None} "
                f"threads={self.num_threads} in_place={self.in_place} layouts="
                f"{ {k: v[1] for k, v in self.views.items()} }")


def rounded(a, dtype):
    return np.asarray(a, dtype=np.float64).astype(dtype).astype(np.float64)


def make_view(values, dtype, kind, rng):
    """(view, values): a numpy array of dtype with the given layout holding values."""
    if values.ndim == 0:
        kind = "contiguous"
    if kind == "broadcast" and values.shape[0] > 0:
        values = np.broadcast_to(values[:1], values.shape)
        return np.broadcast_to(values[:1].astype(dtype), values.shape), values
    if kind == "transposed" and values.ndim >= 2:
        view = np.empty(values.shape[::-1], dtype).T
    elif kind == "channels_last" and values.ndim >= 2:
        moved = values.shape[:1] + values.shape[2:] + values.shape[1:2]
        view = np.moveaxis(np.empty(moved, dtype), -1, 1)
    elif kind == "stepped":
        steps = rng.integers(1, 4, size=values.ndim)
        offs = rng.integers(0, 2, size=values.ndim)
        big = np.empty([n * k + o for n, k, o in zip(values.shape, steps, offs)], dtype)
        big[...] = np.nan if dtype.kind == "f" else -(2**30)
        view = big[tuple(slice(o, o + n * k, k) for n, k, o in zip(values.shape, steps, offs))]
    elif kind == "reversed":
        view = np.empty(values.shape, dtype)[::-1]
    else:
        return np.array(values, dtype=dtype, order="C"), values
    view[...] = values
    return view, values


LAYOUTS = (
    "contiguous", "contiguous", "transposed", "stepped", "channels_last", "broadcast", "reversed"
)


def draw_shape(rng):
    c = int(rng.choice(CLASS_COUNTS))
    kind = rng.random()
    n = 0 if rng.random() < 0.03 else int(rng.integers(1, 7))
    if kind < 0.12:
        return (c,)
    if kind < 0.55:
        return (n if rng.random() < 0.9 else int(rng.integers(30, 130)), c)
    return (n, c) + tuple(int(d) for d in rng.integers(1, 5, size=rng.integers(1, 4)))


def draw_logits(rng, shape, dtype):
    if dtype != F16 and rng.random() < 0.04:
        return rounded(rng.uniform(-1e4, 1e4, size=shape), dtype)
    scale = rng.choice((0.5, 2.0, 4.0) if dtype == F16 else (0.5, 2.0, 8.0, 30.0))
    x = rng.normal(scale=scale, size=shape)
    return rounded(x, dtype)


def draw_soft(rng, shape, dtype):
    mode = rng.integers(4)
    if mode == 0:  # proper distributions along the class axis
        e = np.exp(rng.normal(size=shape))
        q = e / e.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)
    elif mode == 1:
        q = rng.uniform(size=shape)
    elif mode == 2:  # exact zeros (finite logits: PyTorch and softce agree)
        q = rng.uniform(size=shape) * (rng.random(shape) < 0.5)
    else:  # rows that do not sum to 1, some negative
        q = rng.uniform(-0.5, 1.0, size=shape)
    return rounded(q, dtype)


def draw_hard(rng, elem_shape, c, tdtype):
    t = rng.integers(0, c, size=elem_shape).astype(np.int64)
    choices = [-100, -100, -1, -7, int(rng.integers(0, c)), c, c + 5]
    if tdtype == I64:
        choices.append(2**33)
    ignore = int(rng.choice(choices))
    p = rng.choice((0.0, 0.3, 0.3, 1.0))
    t = np.where(rng.random(elem_shape) < p, ignore, t)
    return np.asarray(t, np.int64), ignore


def draw_case(rng):
    dtype = rng.choice((F32, F32, F64, F64, F16))
    shape = draw_shape(rng)
    c = shape[1] if len(shape) > 1 else shape[0]
    elem_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    x = draw_logits(rng, shape, dtype)
    soft = rng.random() < 0.4
    ignore = int(rng.choice((-100, -1, 3)))
    if soft:
        tdtype = dtype if rng.random() < 0.8 else rng.choice((F16, F32, F64))
        target = draw_soft(rng, shape, tdtype)
    else:
        tdtype = rng.choice((I32, I64))
        target, ignore = draw_hard(rng, elem_shape, c, tdtype)
    reduction = str(rng.choice(("mean", "sum", "none")))
    case = Case(dtype=dtype, x=x, target=target, tdtype=tdtype, soft=soft, reduction=reduction,
                ignore_index=ignore, num_threads=int(rng.choice((0, 1, 2))))
    if rng.random() < 0.5:
        w = rng.uniform(0.0, 2.0, size=c) * (rng.random(c) < 0.9)
        case.weight, case.wdtype = rounded(w, F32), rng.choice((F32, F64))
    eps_kind = rng.random()
    if eps_kind > 0.5:
        case.eps = 1.0 if eps_kind > 0.95 else float(rng.choice((0.1, rng.uniform())))
    if rng.random() < 0.6:
        gshape = elem_shape if reduction == "none" else ()
        case.grad = rounded(rng.normal(size=gshape), dtype)
    case.in_place = rng.random() < 0.15
    if rng.random() < 0.03 and x.size and not (soft and has_zero_row(case)):
        x.flat[rng.integers(x.size)] = np.nan  # NaN propagates (SPEC 2)
    set_views(case, rng)
    return case


def has_zero_row(case):
    """True when some element's soft-target terms w_c q_c are all 0 (it then contributes 0,
    even at a NaN logit: a deliberate difference from PyTorch tested elsewhere)."""
    q = np.moveaxis(case.target, 1, -1) if case.target.ndim > 1 else case.target
    w = 1.0 if case.weight is None else case.weight
    return bool(((w * q) == 0).all(axis=-1).any())


def set_views(case, rng, layouts=LAYOUTS):
    """Strided views of x, target, weight and grad; broadcast layouts change the values."""
    kind = rng.choice(layouts)
    view, case.x = make_view(case.x, case.dtype, kind, rng)
    case.views["x"] = (view, kind)
    kind = rng.choice(layouts)
    view, case.target = make_view(case.target, case.tdtype, kind, rng)
    case.views["target"] = (view, kind)
    if case.weight is not None:
        kind = rng.choice(("contiguous", "stepped", "reversed"))
        case.views["weight"] = make_view(case.weight, case.wdtype, kind, rng)[0], kind
    if case.grad is not None:
        kind = rng.choice(layouts)
        view, case.grad = make_view(case.grad, case.dtype, kind, rng)
        case.views["grad"] = (view, kind)
