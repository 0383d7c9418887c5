"""A hand-made DLPack producer for test_dlpack.py, written independently of softce._dlpack.

It exports (part of) a numpy buffer through a capsule it builds with ctypes, in the classic
("dltensor") or versioned ("dltensor_versioned", DLPack 1.0) form, with any dtype code, device,
strides, byte_offset and flags, and records what the consumer does: how many managed tensors
were deleted (and that each deleter ran once) and the name each capsule had when it was freed.
"""

import ctypes

import numpy as np

_api = ctypes.PyDLL(None)  # own function objects: argtypes here do not touch ctypes.pythonapi
_api.PyCapsule_New.restype = ctypes.py_object
_api.PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
_api.PyCapsule_GetName.restype = ctypes.c_char_p
_api.PyCapsule_GetName.argtypes = [ctypes.c_void_p]

_NAMES = {False: ctypes.create_string_buffer(b"dltensor"),
          True: ctypes.create_string_buffer(b"dltensor_versioned")}
CPU, CUDA = 1, 2
FLOAT, BFLOAT, COMPLEX = 2, 4, 5
READ_ONLY = 1


class Device(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int), ("device_id", ctypes.c_int)]


class DataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", Device), ("ndim", ctypes.c_int),
                ("dtype", DataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class Managed(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p)]


class Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class ManagedVersioned(ctypes.Structure):
    _fields_ = [("version", Version), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p), ("flags", ctypes.c_uint64),
                ("dl_tensor", DLTensor)]


_CALLBACK = ctypes.PYFUNCTYPE(None, ctypes.c_void_p)


class Producer:
    """Exports base[offset + sum(i_k * strides[k])] (strides in elements; None = contiguous).

    versioned: answer max_version with a DLPack 1.0 capsule; else behave as a producer older
    than DLPack 1.0, whose __dlpack__ has no max_version keyword. device_seen: what
    __dlpack_device__ reports (None: no such method); device: what the DLTensor says.
    """

    def __init__(self, base, shape, strides=None, offset=0, *, versioned=False, flags=0,
                 device=CPU, device_seen=CPU, code=None, bits=None, lanes=1):
        self.base = base  # the memory; the producer keeps it alive
        self.shape, self.strides = tuple(shape), strides
        self.offset, self.versioned, self.flags = offset, versioned, flags
        self.device, self.device_seen, self.lanes = device, device_seen, lanes
        self.code = code if code is not None else FLOAT
        self.bits = bits if bits is not None else 8 * base.itemsize
        self.alive = {}  # address -> (struct, shape array, strides array) of live exports
        self.deleted = []  # addresses passed to the deleter, in order
        self.capsule_names = []  # name of each capsule when it was freed
        self.asked = []  # max_version of each __dlpack__ call
        self._deleter = _CALLBACK(self._delete)
        self._destructor = _CALLBACK(self._destroy)

    def __dlpack__(self, stream=None, max_version=None):
        self.asked.append(max_version)
        if max_version is not None and not self.versioned:
            raise TypeError("__dlpack__() got an unexpected keyword argument 'max_version'")
        versioned = self.versioned and max_version is not None and max_version[0] >= 1
        managed = ManagedVersioned() if versioned else Managed()
        if versioned:
            managed.version.major, managed.version.minor = 1, 0
            managed.flags = self.flags
        n = len(self.shape)
        shape = (ctypes.c_int64 * max(n, 1))(*self.shape)
        strides = None if self.strides is None else (ctypes.c_int64 * max(n, 1))(*self.strides)
        dl = managed.dl_tensor
        dl.data = self.base.ctypes.data
        dl.byte_offset = self.offset * self.base.itemsize
        dl.device.device_type = self.device
        dl.ndim = n
        dl.dtype.code, dl.dtype.bits, dl.dtype.lanes = self.code, self.bits, self.lanes
        dl.shape = shape
        if strides is not None:
            dl.strides = strides
        managed.deleter = ctypes.cast(self._deleter, ctypes.c_void_p).value
        address = ctypes.addressof(managed)
        self.alive[address] = (managed, shape, strides)
        return _api.PyCapsule_New(address, ctypes.addressof(_NAMES[versioned]),
                                  ctypes.cast(self._destructor, ctypes.c_void_p).value)

    def __dlpack_device__(self):
        if self.device_seen is None:
            raise AttributeError("__dlpack_device__")
        return (self.device_seen, 0)

    def _delete(self, address):
        self.deleted.append(address)
        self.alive.pop(address)  # KeyError (a failure) on a second call

    def _destroy(self, capsule):
        self.capsule_names.append(_api.PyCapsule_GetName(capsule))

    def expected(self):
        """The numpy view the export describes (for comparing values and addresses)."""
        strides = self.strides
        if strides is None:
            strides = np.cumprod((1,) + self.shape[::-1][:-1])[::-1] if self.shape else ()
        flat = self.base.reshape(-1)
        return np.lib.stride_tricks.as_strided(
            flat[self.offset:], self.shape, tuple(s * flat.itemsize for s in strides))
