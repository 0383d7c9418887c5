"""ctypes mirror of include/softce/softce.h, and the loading of libsoftce.

Lookup order (first that applies wins, no silent fallback between them):
1. the environment variable SOFTCE_LIBRARY: a path to the shared library;
2. a libsoftce.so* file in this package's directory;
3. the system loader: ctypes.util.find_library("softce"), then "libsoftce.so.1".
"""

import ctypes
import ctypes.util
import os
import re
import threading

ABI_MAJOR = 1
MAX_DIMS = 8

# softce_dtype
DTYPE_F32, DTYPE_F64, DTYPE_F16, DTYPE_BF16, DTYPE_I32, DTYPE_I64 = 1, 2, 3, 4, 5, 6

# softce_reduction
REDUCTIONS = {"mean": 1, "sum": 2, "none": 3}

# softce_status: values are stable (header), so the binding can name its own errors.
STATUS_NAMES = (
    "SOFTCE_OK",
    "SOFTCE_ERROR_NULL_POINTER",
    "SOFTCE_ERROR_STRUCT_SIZE",
    "SOFTCE_ERROR_DTYPE",
    "SOFTCE_ERROR_NDIM",
    "SOFTCE_ERROR_SHAPE",
    "SOFTCE_ERROR_STRIDE",
    "SOFTCE_ERROR_OVERFLOW",
    "SOFTCE_ERROR_OVERLAP",
    "SOFTCE_ERROR_OPTION",
    "SOFTCE_ERROR_TARGET",
    "SOFTCE_ERROR_OUT_OF_MEMORY",
    "SOFTCE_ERROR_INTERNAL",
    "SOFTCE_ERROR_EMPTY_MEAN",
)
STATUS = {name: value for value, name in enumerate(STATUS_NAMES)}


class Tensor(ctypes.Structure):
    """softce_tensor: strides are in elements, not bytes."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("dtype", ctypes.c_int32),
        ("ndim", ctypes.c_int32),
        ("reserved", ctypes.c_int32),
        ("data", ctypes.c_void_p),
        ("shape", ctypes.c_int64 * MAX_DIMS),
        ("strides", ctypes.c_int64 * MAX_DIMS),
    ]


class Options(ctypes.Structure):
    """softce_options: filled by softce_options_init(), fields only ever appended."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("reduction", ctypes.c_int32),
        ("ignore_index", ctypes.c_int64),
        ("label_smoothing", ctypes.c_double),
        ("weight", ctypes.POINTER(Tensor)),
        ("num_threads", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
        # appended in 1.1.0
        ("z_loss", ctypes.c_double),
        ("softcap", ctypes.c_double),
        ("logit_scale", ctypes.c_double),
        ("sample_weight", ctypes.POINTER(Tensor)),
        ("denominator", ctypes.c_int32),
        ("empty", ctypes.c_int32),
        ("denominator_value", ctypes.c_double),
        ("smoothing", ctypes.c_int32),
        ("reserved", ctypes.c_int32),
        ("smoothing_prior", ctypes.POINTER(Tensor)),
        ("out_lse", ctypes.POINTER(Tensor)),
        ("out_argmax", ctypes.POINTER(Tensor)),
        ("out_correct", ctypes.POINTER(Tensor)),
        ("out_z_loss", ctypes.POINTER(Tensor)),
    ]


_P_T = ctypes.POINTER(Tensor)
_P_O = ctypes.POINTER(Options)
_STATUS = ctypes.c_int
_PROTOTYPES = {
    "softce_version": (ctypes.c_uint, []),
    "softce_version_string": (ctypes.c_char_p, []),
    "softce_status_name": (ctypes.c_char_p, [_STATUS]),
    "softce_status_string": (ctypes.c_char_p, [_STATUS]),
    "softce_last_error": (ctypes.c_char_p, []),
    "softce_options_init": (None, [_P_O]),
    "softce_forward": (_STATUS, [_P_O, _P_T, _P_T, _P_T, _P_T]),
    "softce_backward": (_STATUS, [_P_O, _P_T, _P_T, _P_T, _P_T, _P_T, _P_T]),
    "softce_forward_backward": (_STATUS, [_P_O, _P_T, _P_T, _P_T, _P_T, _P_T]),
    "softce_log_softmax": (_STATUS, [_P_O, _P_T, _P_T]),
    # sparse top-k soft targets (1.1.0): the int32_t argument is a softce_topk_rest value
    "softce_topk_forward": (_STATUS, [_P_O, _P_T, _P_T, _P_T, ctypes.c_int32, _P_T, _P_T]),
    "softce_topk_backward": (_STATUS, [_P_O, _P_T, _P_T, _P_T, ctypes.c_int32, _P_T, _P_T,
                                       _P_T, _P_T]),
    "softce_topk_forward_backward": (_STATUS, [_P_O, _P_T, _P_T, _P_T, ctypes.c_int32, _P_T,
                                               _P_T, _P_T]),
}

_lock = threading.Lock()
_loaded = None  # (CDLL, how it was found)


def _package_candidates():
    """libsoftce.so* files next to this module, best ABI match first."""
    here = os.path.dirname(os.path.abspath(__file__))
    ranked = []
    for name in os.listdir(here):
        m = re.fullmatch(r"libsoftce\.so(\.(\d+)(\.\d+)*)?", name)
        if not m:
            continue
        if m.group(2) is not None and int(m.group(2)) != ABI_MAJOR:
            continue
        rank = {f"libsoftce.so.{ABI_MAJOR}": 0, "libsoftce.so": 1}.get(name, 2)
        ranked.append((rank, name))
    return [os.path.join(here, name) for _, name in sorted(ranked)]


def _open(path):
    lib = ctypes.CDLL(path)
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    major = lib.softce_version() // 10000
    if major != ABI_MAJOR:
        raise OSError(f"{path}: libsoftce ABI {major}, this binding needs {ABI_MAJOR}")
    return lib


def _load():
    env = os.environ.get("SOFTCE_LIBRARY")
    if env:
        try:
            return _open(env), env
        except OSError as e:
            raise OSError(f"cannot load SOFTCE_LIBRARY={env!r}: {e}") from e
    local = _package_candidates()
    if local:
        return _open(local[0]), local[0]
    errors = []
    for name in (ctypes.util.find_library("softce"), f"libsoftce.so.{ABI_MAJOR}"):
        if not name:
            continue
        try:
            return _open(name), name
        except OSError as e:
            errors.append(str(e))
    raise OSError("libsoftce not found: set SOFTCE_LIBRARY, put libsoftce.so next to the "
                  "softce package, or install it for the system loader (" +
                  "; ".join(errors) + ")")


def lib():
    """The loaded library (loaded on first use, then cached)."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = _load()
    return _loaded[0]


_options_init = None  # bytes of softce_options as softce_options_init fills them


def new_options():
    """A softce_options as softce_options_init leaves it: filled by the library once, then
    copied (a quarter of the cost of the ctypes call)."""
    global _options_init
    if _options_init is None:
        o = Options()
        lib().softce_options_init(ctypes.byref(o))
        _options_init = bytes(o)
    return Options.from_buffer_copy(_options_init)


def library_path():
    """The path or name the library was loaded from."""
    lib()
    return _loaded[1]


# ---- vocabulary sharding (softce_shard_*, @since 1.1.0; used by softce.distributed) ----------
SHARD_STATS = 16  # SOFTCE_SHARD_STATS: f64 statistics per element
_PROTOTYPES.update({
    # (opts, logits_shard, target, class_offset, num_classes, stats)
    "softce_shard_stats": (_STATUS, [_P_O, _P_T, _P_T, ctypes.c_int64, ctypes.c_int64, _P_T]),
    # (a, b, out)
    "softce_shard_combine": (_STATUS, [_P_T, _P_T, _P_T]),
    # (opts, target, stats, loss, lse)
    "softce_shard_finalize": (_STATUS, [_P_O, _P_T, _P_T, _P_T, _P_T]),
    # (opts, logits_shard, target, class_offset, num_classes, stats, grad_loss, grad_logits,
    #  grad_target)
    "softce_shard_backward": (_STATUS, [_P_O, _P_T, _P_T, ctypes.c_int64, ctypes.c_int64, _P_T,
                                        _P_T, _P_T, _P_T]),
})
