"""Zero-copy import of any object with __dlpack__ (torch tensors, numpy >= 1.22 arrays, ...).

An exported tensor becomes a numpy array that views the producer's memory; the array's base
owns the DLManagedTensor and calls its deleter when the last view is gone. Protocol:

- ask for a versioned capsule ("dltensor_versioned", DLPack >= 1.0) with max_version, and fall
  back to the classic "dltensor" capsule when the producer does not know the keyword;
- rename the capsule to "used_dltensor[_versioned]" at once: from then on we own the tensor
  and the capsule's destructor leaves it alone;
- read data + byte_offset, shape, strides (in elements; NULL = C-contiguous) and dtype;
- call the deleter exactly once, with the GIL held (numpy < 1.25's deleter needs it).

bfloat16 becomes ml_dtypes.bfloat16 when that package is installed, else a uint16 dtype tagged
with metadata {"softce": "bfloat16"} that the binding treats as bfloat16 (see docs/python.md).
"""

import ctypes
import importlib.util

import numpy as np

from ._errors import raise_binding_error

# DLDeviceType values whose memory the CPU addresses directly: CPU, CUDA host, ROCm host.
_CPU_DEVICES = {1: "cpu", 3: "cuda_host", 11: "rocm_host"}
_DEVICE_NAMES = {2: "cuda", 4: "opencl", 7: "vulkan", 8: "metal", 10: "rocm", 13: "cuda_managed"}
_READ_ONLY = 1  # DLPACK_FLAG_BITMASK_READ_ONLY (versioned tensors only)
_MAX_VERSION = (1, 0)

# (DLDataTypeCode, bits) -> numpy dtype; bfloat16 (code 4) is handled by bfloat16_dtype().
_DTYPES = {
    (0, 8): np.int8, (0, 16): np.int16, (0, 32): np.int32, (0, 64): np.int64,
    (1, 8): np.uint8, (1, 16): np.uint16, (1, 32): np.uint32, (1, 64): np.uint64,
    (2, 16): np.float16, (2, 32): np.float32, (2, 64): np.float64,
    (5, 64): np.complex64, (5, 128): np.complex128, (6, 8): np.bool_,
}


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", _DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", _DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p)]


class _DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class _DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("version", _DLPackVersion), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p), ("flags", ctypes.c_uint64),
                ("dl_tensor", _DLTensor)]


# Both deleters take the managed tensor's address; PYFUNCTYPE keeps the GIL while they run.
_DELETER = ctypes.PYFUNCTYPE(None, ctypes.c_void_p)

# Own function objects on the interpreter's handle: setting argtypes on ctypes.pythonapi's
# shared ones could break other code in the process.
_api = ctypes.PyDLL(ctypes.pythonapi._name, handle=ctypes.pythonapi._handle)
_api.PyCapsule_IsValid.restype = ctypes.c_int
_api.PyCapsule_IsValid.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_GetPointer.restype = ctypes.c_void_p
_api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_SetName.restype = ctypes.c_int
_api.PyCapsule_SetName.argtypes = [ctypes.py_object, ctypes.c_void_p]

# PyCapsule_SetName keeps the pointer, not a copy: the names must live as long as the module.
_USED = {False: ctypes.create_string_buffer(b"used_dltensor"),
         True: ctypes.create_string_buffer(b"used_dltensor_versioned")}

_UINT16_STR = np.dtype(np.uint16).str  # native byte order, as DLPack data is
_BF16_TAGGED = np.dtype(np.uint16, metadata={"softce": "bfloat16"})
_bf16 = None


def bfloat16_dtype():
    """numpy dtype for bfloat16: ml_dtypes.bfloat16 if installed, else a tagged uint16."""
    global _bf16
    if _bf16 is None:
        if importlib.util.find_spec("ml_dtypes") is not None:
            import ml_dtypes
            _bf16 = np.dtype(ml_dtypes.bfloat16)
        else:
            _bf16 = _BF16_TAGGED
    return _bf16


def is_tagged_bfloat16(dtype):
    """True for the uint16 dtype this module tags as bfloat16."""
    meta = dtype.metadata
    return dtype.itemsize == 2 and meta is not None and meta.get("softce") == "bfloat16"


def has_dlpack(obj):
    """True for an object that exports DLPack (and is not already a numpy array)."""
    return not isinstance(obj, np.ndarray) and hasattr(type(obj), "__dlpack__")


def lazily_negated(obj):
    """True for a torch tensor with the negation bit (torch._neg_view, a conjugate's imaginary
    part): its memory holds the negated values, and torch 1.13 exports that memory as is."""
    is_neg = getattr(obj, "is_neg", None)
    return callable(is_neg) and bool(is_neg())


def as_array(obj):
    """obj as a numpy array: numpy arrays as they are, DLPack exporters as views (a lazily
    negated torch tensor resolved first: a copy), others through np.asarray."""
    if isinstance(obj, np.ndarray):
        return obj
    if has_dlpack(obj):
        return from_dlpack(obj.resolve_neg() if lazily_negated(obj) else obj)
    return np.asarray(obj)


class _Owner:
    """Base of the numpy view: holds the managed tensor and runs its deleter once."""

    def __init__(self, address, deleter, interface):
        self._address = address
        self._deleter = deleter
        self.__array_interface__ = interface

    def release(self):
        address, self._address = self._address, None
        if address is not None and self._deleter:
            _DELETER(self._deleter)(address)

    def __del__(self):
        self.release()


def _device_check(obj):
    dev = getattr(obj, "__dlpack_device__", None)
    if dev is not None:
        kind, index = dev()
        _check_device(int(kind), int(index))


def _check_device(kind, index):
    if kind not in _CPU_DEVICES:
        name = _DEVICE_NAMES.get(kind, f"device type {kind}")
        raise_binding_error("SOFTCE_ERROR_DTYPE", f"a DLPack tensor on {name}:{index} cannot "
                            "be read by libsoftce, which needs memory the CPU addresses")


def _capsule(obj):
    """(capsule, versioned) from obj.__dlpack__(), preferring the versioned protocol."""
    try:
        cap = obj.__dlpack__(max_version=_MAX_VERSION)
    except TypeError:  # a producer older than DLPack 1.0 does not know max_version
        cap = obj.__dlpack__()
    for versioned, name in ((True, b"dltensor_versioned"), (False, b"dltensor")):
        if _api.PyCapsule_IsValid(cap, name):
            return cap, versioned
    raise TypeError(f"{type(obj).__name__}.__dlpack__() did not return an unused DLPack capsule")


def _take(cap, versioned):
    """Takes ownership of the capsule's managed tensor: (owner, DLTensor, read_only)."""
    name = b"dltensor_versioned" if versioned else b"dltensor"
    address = _api.PyCapsule_GetPointer(cap, name)
    _api.PyCapsule_SetName(cap, ctypes.addressof(_USED[versioned]))
    kind = _DLManagedTensorVersioned if versioned else _DLManagedTensor
    managed = kind.from_address(address)
    owner = _Owner(address, managed.deleter, None)
    if versioned and managed.version.major != _MAX_VERSION[0]:
        owner.release()
        raise_binding_error("SOFTCE_ERROR_DTYPE", f"DLPack version {managed.version.major}."
                            f"{managed.version.minor} is not supported (need 1.x)")
    read_only = bool(versioned and managed.flags & _READ_ONLY)
    return owner, managed.dl_tensor, read_only


def _numpy_dtype(dt):
    if dt.lanes != 1:
        raise_binding_error("SOFTCE_ERROR_DTYPE", f"DLPack vector dtype ({dt.lanes} lanes) "
                            "is not supported")
    if dt.code == 4 and dt.bits == 16:
        return bfloat16_dtype()
    found = _DTYPES.get((dt.code, dt.bits))
    if found is None:
        raise_binding_error("SOFTCE_ERROR_DTYPE", f"DLPack dtype (code {dt.code}, {dt.bits} "
                            "bits) is not supported")
    return np.dtype(found)


def _interface(dl, dtype, read_only):
    """The __array_interface__ of a DLTensor (strides converted from elements to bytes)."""
    if not 0 <= dl.ndim <= 64:
        raise_binding_error("SOFTCE_ERROR_NDIM", f"DLPack tensor with ndim {dl.ndim}")
    shape = tuple(dl.shape[k] for k in range(dl.ndim))
    strides = None
    if dl.strides:
        strides = tuple(dl.strides[k] * dtype.itemsize for k in range(dl.ndim))
    typestr = _UINT16_STR if dl.dtype.code == 4 else dtype.str  # bfloat16: viewed after
    return {"version": 3, "shape": shape, "typestr": typestr, "strides": strides,
            "data": ((dl.data or 0) + dl.byte_offset, read_only)}


def from_dlpack(obj):
    """A numpy array viewing the memory that obj exports through DLPack (no copy)."""
    _device_check(obj)
    cap, versioned = _capsule(obj)
    owner, dl, read_only = _take(cap, versioned)
    try:
        _check_device(dl.device.device_type, dl.device.device_id)
        dtype = _numpy_dtype(dl.dtype)
        owner.__array_interface__ = _interface(dl, dtype, read_only)
        if 0 in owner.__array_interface__["shape"]:  # nothing to view: no pointer needed
            owner.release()
            return np.empty(owner.__array_interface__["shape"], dtype)
        array = np.asarray(owner)
    except BaseException:
        owner.release()
        raise
    return array.view(dtype) if dl.dtype.code == 4 else array
