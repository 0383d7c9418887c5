"""softce: softmax cross-entropy loss and gradients, a ctypes binding of libsoftce.

The functions mirror torch.nn.functional.cross_entropy (names, defaults, semantics) on numpy
arrays:

    loss = softce.cross_entropy(logits, target)                      # 0-d array for 'mean'
    loss, grad = softce.cross_entropy_forward_backward(logits, target)
    grad = softce.cross_entropy_backward(logits, target, grad_output)
    grad, grad_target = softce.cross_entropy_backward(logits, soft, target_grad=True)
    logp = softce.log_softmax(logits)

Logits are (C), (N, C) or (N, C, d1, ...) with the class axis at dim 1 (dim 0 for 1-D), in
float32, float64, float16 or bfloat16 (a numpy dtype named "bfloat16", e.g. ml_dtypes). A target
of the same shape as the logits is a soft target (float probabilities), anything else holds class
indices (int32/int64; other integer types are converted). Results have the logits' dtype.
Arrays of any strides are passed to the library as views, without copying (see _tensor.py for
the few cases that copy). Any object with __dlpack__ (torch tensors, ...) is accepted wherever
an array is, as a view of its memory (_dlpack.py). PyTorch users: softce.torch, a drop-in for
torch.nn.functional.cross_entropy and torch.nn.CrossEntropyLoss with autograd (import it
explicitly; docs/pytorch.md). Failures raise SoftceError (a ValueError) with .status, .name and
.detail.

Options added in 1.1 (keyword only, off by default): z_loss, softcap, logit_scale,
sample_weight, denominator, empty, smoothing, smoothing_prior, kl; and extras=('lse', 'argmax',
'correct', 'z_loss') for per-element extra outputs, returned as a trailing dict:

    loss, grad, ex = softce.cross_entropy_forward_backward(
        logits, target, z_loss=1e-4, sample_weight=mask, denominator="valid",
        extras=("correct",))

The library is found through SOFTCE_LIBRARY (a path), else a libsoftce.so* next to this package,
else the system loader (libsoftce.so.1). See docs/python.md.
"""

from ._api import (
    cross_entropy,
    cross_entropy_backward,
    cross_entropy_forward_backward,
    library_path,
    log_softmax,
    version,
)
from ._errors import SoftceError
from ._topk import (
    cross_entropy_topk,
    cross_entropy_topk_backward,
    cross_entropy_topk_forward_backward,
)

__version__ = "1.1.0"

__all__ = [
    "SoftceError",
    "cross_entropy",
    "cross_entropy_backward",
    "cross_entropy_forward_backward",
    "cross_entropy_topk",
    "cross_entropy_topk_backward",
    "cross_entropy_topk_forward_backward",
    "library_path",
    "log_softmax",
    "version",
]
