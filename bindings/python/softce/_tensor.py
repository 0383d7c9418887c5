"""numpy arrays as softce_tensor descriptors, without copying whenever the layout allows it.

Copy rules (inputs): an array is passed as a view of its own memory, whatever its strides
(transposed, sliced with steps, permuted, broadcast with zero strides), unless
  - a stride is negative (the library rejects negative strides), or
  - a stride is not a multiple of the itemsize, or the data is misaligned, or
  - the byte order is not native, or the dtype must be converted (e.g. int16 class indices);
then a C-contiguous native copy is passed instead. Outputs the caller provides (out=) are never
copied: an output that cannot be passed as it is raises SoftceError.

Any object with __dlpack__ (torch tensors, ...) is accepted wherever a numpy array is, as a
numpy view of the exported memory (_dlpack.py): the same rules then apply to that view.
"""

import ctypes
import sys

import numpy as np

from . import _ctypes as C
from ._dlpack import as_array, has_dlpack, is_tagged_bfloat16, lazily_negated
from ._errors import raise_binding_error

_FLOATS = {
    np.dtype(np.float32): C.DTYPE_F32,
    np.dtype(np.float64): C.DTYPE_F64,
    np.dtype(np.float16): C.DTYPE_F16,
}
_INTS = {np.dtype(np.int32): C.DTYPE_I32, np.dtype(np.int64): C.DTYPE_I64}
_INT64_MAX = np.iinfo(np.int64).max


def is_bfloat16(dtype):
    """True for a 2-byte numpy dtype named bfloat16 (e.g. ml_dtypes.bfloat16), or the uint16
    dtype tagged as bfloat16 by a DLPack import."""
    return (dtype.name == "bfloat16" and dtype.itemsize == 2) or is_tagged_bfloat16(dtype)


def to_float(a, dtype):
    """a converted to the float dtype (a copy); understands tagged bfloat16 bits."""
    if is_tagged_bfloat16(a.dtype):
        bits = a.astype(np.uint32)
        bits <<= np.uint32(16)  # in place: stays uint32 (also for 0-d arrays)
        a = bits.view(np.float32)
    return a.astype(dtype)


def float_code(dtype):
    """The softce dtype of a native float numpy dtype, or None."""
    code = _FLOATS.get(dtype)  # first: dtype.name (in is_bfloat16) is slow
    if code is None and is_bfloat16(dtype):
        return C.DTYPE_BF16
    return code


def int_code(dtype):
    """The softce dtype of a native int32/int64 numpy dtype, or None."""
    return _INTS.get(dtype)


def native(a):
    """a, or a copy in native byte order."""
    if a.dtype.isnative:
        return a
    return a.astype(a.dtype.newbyteorder("="))


def to_int64(a, what):
    """An integer array of another width as int64 (a copy); uint64 must fit."""
    if a.dtype == np.uint64 and a.size and a.max() > _INT64_MAX:
        raise_binding_error("SOFTCE_ERROR_TARGET", f"{what} has values above int64")
    return a.astype(np.int64)


def _data_address_reader():
    """A function returning the address of an array's first element.

    a.ctypes.data builds a ctypes helper object per call (~1.3 us, four times per call of the
    binding). Under CPython id(a) is the address of the array object, whose first field after
    the object header is numpy's data pointer (PyArrayObject_fields.data, read by numpy's
    PyArray_DATA macro in every compiled extension: part of its ABI). That field is read
    directly (~0.2 us) when it agrees with a.ctypes.data on test arrays here, else (another
    interpreter or object layout) a.ctypes.data is used.
    """
    def slow(a):
        return a.ctypes.data

    if sys.implementation.name != "cpython":
        return slow
    offset = ctypes.sizeof(ctypes.c_ssize_t) + ctypes.sizeof(ctypes.c_void_p)  # PyObject_HEAD
    field = ctypes.c_void_p.from_address

    def fast(a):
        return field(id(a) + offset).value

    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    probes = (base, base[1:, 2:], base.T, base[::2], np.zeros(0, np.int64), np.float64(1.0))
    probes = [np.asarray(p) for p in probes]
    if all(fast(p) == p.ctypes.data for p in probes):
        return fast
    return slow


data_address = _data_address_reader()


def viewable(a):
    """True when the library can address a's memory directly."""
    flags = a.flags
    if not flags.aligned:
        return False
    if flags.c_contiguous and a.size:  # each stride of a dimension > 1: a multiple of itemsize
        return True
    size = a.itemsize
    return all(n <= 1 or (s >= 0 and s % size == 0) for n, s in zip(a.shape, a.strides))


def input_view(a):
    """a itself when the library can read it in place, else a C-contiguous copy."""
    if viewable(a):
        return a
    return np.array(a, order="C")  # (np.ascontiguousarray would make a 0-d array 1-d)


def describe(a, code):
    """A softce_tensor pointing into a's memory (strides in elements). Keep a alive."""
    if a.ndim > C.MAX_DIMS:
        raise_binding_error("SOFTCE_ERROR_NDIM", f"{a.ndim} dimensions (at most {C.MAX_DIMS})")
    shape = a.shape
    if a.size == 0:  # nothing is addressed: numpy's strides may be anything (even 0)
        strides, step = [0] * a.ndim, 1
        for k in reversed(range(a.ndim)):
            strides[k] = step
            step *= max(shape[k], 1)
    else:  # a dimension of size 1 is never stepped over: its numpy stride may be anything
        size = a.itemsize
        strides = [0 if n == 1 else s // size for n, s in zip(shape, a.strides)]
    # one constructor call and two slice stores: ctypes assignments one by one cost more
    t = C.Tensor(ctypes.sizeof(C.Tensor), code, a.ndim, 0, data_address(a))
    if a.ndim:
        t.shape[:a.ndim] = shape
        t.strides[:a.ndim] = strides
    return t


def float_input(a, what):
    """(array, code) for a float input operand; raises SoftceError for other dtypes."""
    a = native(as_array(a))
    code = float_code(a.dtype)
    if code is None:
        raise_binding_error("SOFTCE_ERROR_DTYPE", f"{what} must be float32, float64, float16 "
                            f"or bfloat16, not {a.dtype}")
    return input_view(a), code


def output(a, what):
    """(array, code) for a caller-provided output: written in place, never copied.

    a: a numpy array, or an object with __dlpack__ (written through a view of its memory).
    """
    if has_dlpack(a):
        if lazily_negated(a):
            raise_binding_error("SOFTCE_ERROR_STRIDE", f"{what} is a tensor with the negation "
                                "bit (its memory holds the negated values): pass a tensor "
                                "whose memory holds its values (resolve_neg())")
        a = as_array(a)
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{what} must be a numpy.ndarray or support DLPack, "
                        f"not {type(a).__name__}")
    code = float_code(a.dtype)
    if code is None:
        raise_binding_error("SOFTCE_ERROR_DTYPE", f"{what} must be a native float array, "
                            f"not {a.dtype}")
    if not a.flags.writeable:
        raise_binding_error("SOFTCE_ERROR_STRIDE", f"{what} is read-only")
    if not viewable(a):
        raise_binding_error("SOFTCE_ERROR_STRIDE", f"{what} has strides {a.strides} that "
                            "libsoftce cannot address (negative or unaligned)")
    return a, code
