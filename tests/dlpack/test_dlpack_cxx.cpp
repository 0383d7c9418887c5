// softce_dlpack.h compiled as C++: the adapter must be valid C++ too. Returns 0 when a
// C-contiguous float32 DLTensor converts to the expected descriptor and back.
#include <softce/softce_dlpack.h>

extern "C" int softce_dlpack_cxx_check(void);

int softce_dlpack_cxx_check(void) {
    float buf[6] = {};
    int64_t shape[2] = {2, 3};
    DLTensor dl = {};
    dl.data = buf;
    dl.device.device_type = kDLCPU;
    dl.ndim = 2;
    dl.dtype.code = kDLFloat;
    dl.dtype.bits = 32;
    dl.dtype.lanes = 1;
    dl.shape = shape;
    softce_tensor t;
    if (softce_tensor_from_dlpack(&t, &dl) != SOFTCE_OK)
        return 1;
    if (t.dtype != SOFTCE_DTYPE_F32 || t.strides[0] != 3 || t.strides[1] != 1)
        return 2;
    DLTensor back;
    if (softce_tensor_to_dlpack(&back, &t) != SOFTCE_OK || back.data != buf)
        return 3;
    return back.dtype.code == kDLFloat && back.dtype.bits == 32 ? 0 : 4;
}
