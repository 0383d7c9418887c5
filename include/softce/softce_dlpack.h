/**
 * @file softce_dlpack.h
 * @brief libsoftce — optional, header-only adapter between DLPack tensors and softce_tensor.
 *
 * DLPack (https://dmlc.github.io/dlpack/) is the tensor exchange struct of PyTorch, NumPy,
 * JAX, CuPy, TVM and others. This header converts a `DLTensor` into a `softce_tensor` that
 * views the same memory, and back. Nothing here is compiled into libsoftce: include it only
 * where you use DLPack. It needs <dlpack/dlpack.h> >= 0.5 on the include path (Debian/Ubuntu:
 * `apt install libdlpack-dev`; CMake: `find_package(dlpack CONFIG)` gives `dlpack::dlpack`).
 * Valid C99/C11 and C++. Everything is `static inline` and prefixed softce_dlpack_.
 *
 * A managed tensor (DLManagedTensor, or DLManagedTensorVersioned from DLPack 1.0) is converted
 * through its `dl_tensor` member; the caller keeps it alive (and calls its deleter) as usual.
 * For an output, check the READ_ONLY flag of a versioned tensor before writing.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SOFTCE_SOFTCE_DLPACK_H
#define SOFTCE_SOFTCE_DLPACK_H

#include <dlpack/dlpack.h>
#include <softce/softce.h>

#if !defined(DLPACK_MAJOR_VERSION) && (!defined(DLPACK_VERSION) || DLPACK_VERSION < 50)
#error "softce_dlpack.h needs DLPack 0.5 or later (DLDevice)"
#endif

/** @cond SOFTCE_INTERNAL */
/* A cast that is neither an old-style cast in C++ nor a syntax error in C. */
#ifdef __cplusplus
#define SOFTCE_DLPACK_CAST(type, value) static_cast<type>(value)
#else
#define SOFTCE_DLPACK_CAST(type, value) ((type)(value))
#endif
/** @endcond */

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief The softce dtype of a DLPack dtype.
 * @param dtype A DLPack dtype.
 * @return SOFTCE_DTYPE_F32/F64/F16/BF16 for 1-lane float32/64/16 and bfloat16,
 *         SOFTCE_DTYPE_I32/I64 for 1-lane int32/int64, else SOFTCE_DTYPE_INVALID.
 * @since 1.0.0
 */
static inline softce_dtype softce_dlpack_dtype(DLDataType dtype) {
    if (dtype.lanes != 1)
        return SOFTCE_DTYPE_INVALID;
    if (dtype.code == kDLFloat) {
        return dtype.bits == 32   ? SOFTCE_DTYPE_F32
               : dtype.bits == 64 ? SOFTCE_DTYPE_F64
               : dtype.bits == 16 ? SOFTCE_DTYPE_F16
                                  : SOFTCE_DTYPE_INVALID;
    }
    if (dtype.code == kDLBfloat)
        return dtype.bits == 16 ? SOFTCE_DTYPE_BF16 : SOFTCE_DTYPE_INVALID;
    if (dtype.code == kDLInt) {
        return dtype.bits == 32   ? SOFTCE_DTYPE_I32
               : dtype.bits == 64 ? SOFTCE_DTYPE_I64
                                  : SOFTCE_DTYPE_INVALID;
    }
    return SOFTCE_DTYPE_INVALID;
}

/**
 * @brief Size in bytes of one element of a softce dtype.
 * @param dtype A softce_dtype value (as stored in softce_tensor::dtype).
 * @return 2, 4 or 8; 0 for an invalid dtype.
 * @since 1.0.0
 */
static inline size_t softce_dlpack_itemsize(int32_t dtype) {
    switch (dtype) {
    case SOFTCE_DTYPE_F16:
    case SOFTCE_DTYPE_BF16:
        return 2;
    case SOFTCE_DTYPE_F32:
    case SOFTCE_DTYPE_I32:
        return 4;
    case SOFTCE_DTYPE_F64:
    case SOFTCE_DTYPE_I64:
        return 8;
    default:
        return 0;
    }
}

/**
 * @brief Whether the CPU addresses memory of a DLPack device directly.
 * @param device A DLPack device.
 * @return 1 for kDLCPU, kDLCUDAHost and kDLROCMHost (pinned host memory), else 0.
 * @since 1.0.0
 */
static inline int softce_dlpack_cpu_device(DLDevice device) {
    return device.device_type == kDLCPU || device.device_type == kDLCUDAHost ||
           device.device_type == kDLROCMHost;
}

/**
 * @brief Fills a softce_tensor that views the memory of a DLTensor (no copy).
 *
 * The view starts at `data + byte_offset`; strides are copied (both count elements), NULL
 * strides mean C-contiguous. Whether the view suits an operand (shape, negative strides,
 * overlap) is checked by the entry point that receives it.
 * @param out Descriptor to fill; untouched on failure.
 * @param dl  The DLPack tensor (e.g. `&managed->dl_tensor`); its memory must outlive `out`.
 * @retval SOFTCE_OK on success.
 * @retval SOFTCE_ERROR_NULL_POINTER if `out` or `dl` is NULL, or `dl->shape` is NULL with
 *         ndim > 0.
 * @retval SOFTCE_ERROR_DTYPE for a dtype softce does not know (see softce_dlpack_dtype()) or
 *         memory the CPU cannot address (see softce_dlpack_cpu_device()).
 * @retval SOFTCE_ERROR_NDIM if ndim is outside 0 .. SOFTCE_MAX_DIMS.
 * @retval SOFTCE_ERROR_SHAPE for a negative size.
 * @retval SOFTCE_ERROR_STRIDE if byte_offset is not a multiple of the element size.
 * @retval SOFTCE_ERROR_OVERFLOW if C-contiguous strides do not fit int64.
 * @since 1.0.0
 */
static inline softce_status softce_tensor_from_dlpack(softce_tensor *out, const DLTensor *dl) {
    softce_tensor t;
    softce_dtype dtype;
    size_t itemsize;
    int64_t step = 1;
    int32_t k;
    if (!out || !dl)
        return SOFTCE_ERROR_NULL_POINTER;
    dtype = softce_dlpack_dtype(dl->dtype);
    itemsize = softce_dlpack_itemsize(SOFTCE_DLPACK_CAST(int32_t, dtype));
    if (itemsize == 0 || !softce_dlpack_cpu_device(dl->device))
        return SOFTCE_ERROR_DTYPE;
    if (dl->ndim < 0 || dl->ndim > SOFTCE_MAX_DIMS)
        return SOFTCE_ERROR_NDIM;
    if (dl->ndim > 0 && !dl->shape)
        return SOFTCE_ERROR_NULL_POINTER;
    if (dl->byte_offset % itemsize != 0)
        return SOFTCE_ERROR_STRIDE;
    t.struct_size = SOFTCE_DLPACK_CAST(uint32_t, sizeof(softce_tensor));
    t.dtype = SOFTCE_DLPACK_CAST(int32_t, dtype);
    t.ndim = SOFTCE_DLPACK_CAST(int32_t, dl->ndim);
    t.reserved = 0;
    t.data = dl->data;
    if (t.data)
        t.data = SOFTCE_DLPACK_CAST(char *, dl->data) + dl->byte_offset;
    for (k = 0; k < SOFTCE_MAX_DIMS; ++k)
        t.shape[k] = t.strides[k] = 0;
    for (k = t.ndim - 1; k >= 0; --k) {
        int64_t n = dl->shape[k];
        if (n < 0)
            return SOFTCE_ERROR_SHAPE;
        t.shape[k] = n;
        if (dl->strides) {
            t.strides[k] = dl->strides[k];
            continue;
        }
        t.strides[k] = step;
        if (n > 1 && step > INT64_MAX / n)
            return SOFTCE_ERROR_OVERFLOW;
        step *= n > 1 ? n : 1;
    }
    *out = t;
    return SOFTCE_OK;
}

/**
 * @brief Fills a DLTensor (CPU device) that views the memory of a softce_tensor (no copy).
 *
 * `out->shape` and `out->strides` point into `t`, which must outlive `out`; byte_offset is 0.
 * @param out DLTensor to fill; untouched on failure.
 * @param t   A softce descriptor.
 * @retval SOFTCE_OK on success.
 * @retval SOFTCE_ERROR_NULL_POINTER if `out` or `t` is NULL.
 * @retval SOFTCE_ERROR_DTYPE for an invalid dtype.
 * @retval SOFTCE_ERROR_NDIM if ndim is outside 0 .. SOFTCE_MAX_DIMS.
 * @since 1.0.0
 */
static inline softce_status softce_tensor_to_dlpack(DLTensor *out, softce_tensor *t) {
    DLTensor dl;
    size_t itemsize;
    if (!out || !t)
        return SOFTCE_ERROR_NULL_POINTER;
    itemsize = softce_dlpack_itemsize(t->dtype);
    if (itemsize == 0)
        return SOFTCE_ERROR_DTYPE;
    if (t->ndim < 0 || t->ndim > SOFTCE_MAX_DIMS)
        return SOFTCE_ERROR_NDIM;
    dl.data = t->data;
    dl.device.device_type = kDLCPU;
    dl.device.device_id = 0;
    dl.ndim = SOFTCE_DLPACK_CAST(int, t->ndim);
    dl.dtype.code = SOFTCE_DLPACK_CAST(uint8_t, kDLFloat);
    if (t->dtype == SOFTCE_DTYPE_BF16)
        dl.dtype.code = SOFTCE_DLPACK_CAST(uint8_t, kDLBfloat);
    else if (t->dtype == SOFTCE_DTYPE_I32 || t->dtype == SOFTCE_DTYPE_I64)
        dl.dtype.code = SOFTCE_DLPACK_CAST(uint8_t, kDLInt);
    dl.dtype.bits = SOFTCE_DLPACK_CAST(uint8_t, 8 * itemsize);
    dl.dtype.lanes = 1;
    dl.shape = t->shape;
    dl.strides = t->strides;
    dl.byte_offset = 0;
    *out = dl;
    return SOFTCE_OK;
}

#ifdef __cplusplus
}
#endif

#endif /* SOFTCE_SOFTCE_DLPACK_H */
