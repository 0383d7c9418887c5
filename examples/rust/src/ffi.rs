//! The C declarations of `include/softce/softce.h` (ABI 1), written by hand.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_uint, c_void};

/// `SOFTCE_MAX_DIMS`.
pub const MAX_DIMS: usize = 8;

/// `softce_status` values (a C enum: an `int`).
pub type softce_status = c_int;
pub const SOFTCE_OK: softce_status = 0;
pub const SOFTCE_ERROR_SHAPE: softce_status = 5;
pub const SOFTCE_ERROR_OVERLAP: softce_status = 8;
pub const SOFTCE_ERROR_OPTION: softce_status = 9;
pub const SOFTCE_ERROR_TARGET: softce_status = 10;

/// `softce_dtype` values.
pub type softce_dtype = c_int;
pub const SOFTCE_DTYPE_F32: softce_dtype = 1;
pub const SOFTCE_DTYPE_F64: softce_dtype = 2;
pub const SOFTCE_DTYPE_F16: softce_dtype = 3;
pub const SOFTCE_DTYPE_BF16: softce_dtype = 4;
pub const SOFTCE_DTYPE_I32: softce_dtype = 5;
pub const SOFTCE_DTYPE_I64: softce_dtype = 6;

/// `softce_reduction` values.
pub const SOFTCE_REDUCTION_MEAN: i32 = 1;
pub const SOFTCE_REDUCTION_SUM: i32 = 2;
pub const SOFTCE_REDUCTION_NONE: i32 = 3;

/// `softce_tensor`: a strided view, strides in elements.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct softce_tensor {
    pub struct_size: u32,
    pub dtype: i32,
    pub ndim: i32,
    pub reserved: i32,
    pub data: *mut c_void,
    pub shape: [i64; MAX_DIMS],
    pub strides: [i64; MAX_DIMS],
}

/// `softce_options`; fill with `softce_options_init`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct softce_options {
    pub struct_size: u32,
    pub reduction: i32,
    pub ignore_index: i64,
    pub label_smoothing: f64,
    pub weight: *const softce_tensor,
    pub num_threads: i32,
    pub flags: u32,
    // appended in 1.1.0 (the library fills them with softce_options_init)
    pub z_loss: f64,
    pub softcap: f64,
    pub logit_scale: f64,
    pub sample_weight: *const softce_tensor,
    pub denominator: i32,
    pub empty: i32,
    pub denominator_value: f64,
    pub smoothing: i32,
    pub reserved: i32,
    pub smoothing_prior: *const softce_tensor,
    pub out_lse: *const softce_tensor,
    pub out_argmax: *const softce_tensor,
    pub out_correct: *const softce_tensor,
    pub out_z_loss: *const softce_tensor,
}

extern "C" {
    pub fn softce_version() -> c_uint;
    pub fn softce_version_string() -> *const c_char;
    pub fn softce_status_name(status: softce_status) -> *const c_char;
    pub fn softce_status_string(status: softce_status) -> *const c_char;
    pub fn softce_last_error() -> *const c_char;
    pub fn softce_tensor_init(
        t: *mut softce_tensor,
        dtype: softce_dtype,
        ndim: i32,
        shape: *const i64,
        data: *mut c_void,
    ) -> softce_status;
    pub fn softce_options_init(opts: *mut softce_options);
    pub fn softce_forward(
        opts: *const softce_options,
        logits: *const softce_tensor,
        target: *const softce_tensor,
        loss: *const softce_tensor,
        lse: *const softce_tensor,
    ) -> softce_status;
    pub fn softce_backward(
        opts: *const softce_options,
        logits: *const softce_tensor,
        target: *const softce_tensor,
        grad_loss: *const softce_tensor,
        lse: *const softce_tensor,
        grad_logits: *const softce_tensor,
        grad_target: *const softce_tensor,
    ) -> softce_status;
    pub fn softce_forward_backward(
        opts: *const softce_options,
        logits: *const softce_tensor,
        target: *const softce_tensor,
        grad_loss: *const softce_tensor,
        loss: *const softce_tensor,
        grad_logits: *const softce_tensor,
    ) -> softce_status;
    pub fn softce_log_softmax(
        opts: *const softce_options,
        logits: *const softce_tensor,
        out: *const softce_tensor,
    ) -> softce_status;
}
