//! Rust bindings to libsoftce: softmax cross-entropy loss and gradients for hard (class index)
//! and soft (probability) targets, with the semantics of PyTorch's `F.cross_entropy`.
//!
//! [`ffi`] declares the C API of `softce/softce.h` by hand (`extern "C"` and `#[repr(C)]`);
//! the rest is a small safe layer over it: [`Tensor`] / [`TensorMut`] borrow slices with a
//! shape, [`Options`] carries PyTorch's keyword arguments, and every function returns a
//! [`Result`] whose [`Error`] carries the status name and the library's detail message.
//!
//! ```no_run
//! use softce::{Options, Tensor, TensorMut};
//! let logits = [2.0f32, 1.0, 0.1, 0.5, 2.5, 0.3];
//! let labels = [0i64, 2];
//! let mut loss = [0.0f32];
//! softce::forward(
//!     &Options::new(),
//!     &Tensor::new(&logits, &[2, 3]).unwrap(),
//!     &Tensor::new(&labels, &[2]).unwrap(),
//!     &mut TensorMut::scalar(&mut loss).unwrap(),
//! )
//! .unwrap();
//! ```

use std::ffi::CStr;
use std::fmt;
use std::marker::PhantomData;
use std::ptr;

pub mod ffi;

/// A failed call: the status, its name (e.g. `SOFTCE_ERROR_TARGET`) and the library's detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub status: ffi::softce_status,
    pub name: String,
    pub detail: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.detail)
    }
}

impl std::error::Error for Error {}

fn c_string(p: *const std::os::raw::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the library returns NUL-terminated strings that live until the next call.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Turns a status into a `Result`, reading the thread-local detail on failure.
pub fn check(status: ffi::softce_status) -> Result<(), Error> {
    if status == ffi::SOFTCE_OK {
        return Ok(());
    }
    // SAFETY: plain C calls without arguments that can be invalid.
    let (name, detail) = unsafe { (ffi::softce_status_name(status), ffi::softce_last_error()) };
    Err(Error {
        status,
        name: c_string(name),
        detail: c_string(detail),
    })
}

/// The version of the loaded library, e.g. "1.0.0".
pub fn version() -> String {
    // SAFETY: returns a static string.
    c_string(unsafe { ffi::softce_version_string() })
}

/// Element types that map to a `softce_dtype`.
pub trait Element: Copy {
    const DTYPE: ffi::softce_dtype;
}
impl Element for f32 {
    const DTYPE: ffi::softce_dtype = ffi::SOFTCE_DTYPE_F32;
}
impl Element for f64 {
    const DTYPE: ffi::softce_dtype = ffi::SOFTCE_DTYPE_F64;
}
impl Element for i32 {
    const DTYPE: ffi::softce_dtype = ffi::SOFTCE_DTYPE_I32;
}
impl Element for i64 {
    const DTYPE: ffi::softce_dtype = ffi::SOFTCE_DTYPE_I64;
}

fn describe<T: Element>(
    len: usize,
    shape: &[i64],
    data: *mut T,
) -> Result<ffi::softce_tensor, Error> {
    let numel = shape
        .iter()
        .try_fold(1i64, |n, &s| if s < 0 { None } else { n.checked_mul(s) });
    if shape.len() > ffi::MAX_DIMS || numel != Some(len as i64) {
        return Err(Error {
            status: ffi::SOFTCE_ERROR_SHAPE,
            name: "SOFTCE_ERROR_SHAPE".to_string(),
            detail: format!("a slice of {} elements is not of shape {:?}", len, shape),
        });
    }
    let mut t = std::mem::MaybeUninit::<ffi::softce_tensor>::uninit();
    // SAFETY: t is written by softce_tensor_init on success; shape has shape.len() entries.
    check(unsafe {
        ffi::softce_tensor_init(
            t.as_mut_ptr(),
            T::DTYPE,
            shape.len() as i32,
            shape.as_ptr(),
            data.cast(),
        )
    })?;
    Ok(unsafe { t.assume_init() })
}

/// An input: a borrowed, contiguous row-major slice with a shape.
pub struct Tensor<'a> {
    raw: ffi::softce_tensor,
    _data: PhantomData<&'a [u8]>,
}

impl<'a> Tensor<'a> {
    /// Describes `data` as a C-order tensor of `shape` (the product of `shape` = `data.len()`).
    pub fn new<T: Element>(data: &'a [T], shape: &[i64]) -> Result<Self, Error> {
        let raw = describe(data.len(), shape, data.as_ptr() as *mut T)?;
        Ok(Tensor {
            raw,
            _data: PhantomData,
        })
    }

    /// Replaces the strides (in elements), for transposed, channels-last or broadcast views.
    ///
    /// # Safety
    ///
    /// For every index of the shape, the element the strides point to must lie inside the
    /// borrowed slice: the library reads them without knowing the slice's length.
    pub unsafe fn with_strides(mut self, strides: &[i64]) -> Self {
        self.raw.strides[..strides.len()].copy_from_slice(strides);
        self
    }

    pub fn raw(&self) -> &ffi::softce_tensor {
        &self.raw
    }
}

/// An output: a mutably borrowed, contiguous row-major slice with a shape.
pub struct TensorMut<'a> {
    raw: ffi::softce_tensor,
    _data: PhantomData<&'a mut [u8]>,
}

impl<'a> TensorMut<'a> {
    pub fn new<T: Element>(data: &'a mut [T], shape: &[i64]) -> Result<Self, Error> {
        let raw = describe(data.len(), shape, data.as_mut_ptr())?;
        Ok(TensorMut {
            raw,
            _data: PhantomData,
        })
    }

    /// A 0-d tensor: the output of a `mean` or `sum` loss (`data` has one element).
    pub fn scalar<T: Element>(data: &'a mut [T]) -> Result<Self, Error> {
        Self::new(data, &[])
    }

    pub fn raw(&self) -> &ffi::softce_tensor {
        &self.raw
    }
}

/// How per-element losses are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    Mean,
    Sum,
    None,
}

/// PyTorch's keyword arguments (and the thread count), with PyTorch's defaults.
#[derive(Clone, Copy)]
pub struct Options<'w> {
    raw: ffi::softce_options,
    _weight: PhantomData<&'w Tensor<'w>>,
}

impl<'w> Options<'w> {
    pub fn new() -> Self {
        let mut raw = std::mem::MaybeUninit::<ffi::softce_options>::uninit();
        // SAFETY: softce_options_init fills every field.
        unsafe { ffi::softce_options_init(raw.as_mut_ptr()) };
        Options {
            raw: unsafe { raw.assume_init() },
            _weight: PhantomData,
        }
    }
    pub fn reduction(mut self, r: Reduction) -> Self {
        self.raw.reduction = match r {
            Reduction::Mean => ffi::SOFTCE_REDUCTION_MEAN,
            Reduction::Sum => ffi::SOFTCE_REDUCTION_SUM,
            Reduction::None => ffi::SOFTCE_REDUCTION_NONE,
        };
        self
    }
    pub fn ignore_index(mut self, index: i64) -> Self {
        self.raw.ignore_index = index;
        self
    }
    pub fn label_smoothing(mut self, eps: f64) -> Self {
        self.raw.label_smoothing = eps;
        self
    }
    /// Class weights: a (C) tensor of f32 or f64.
    pub fn weight(mut self, weight: &'w Tensor<'w>) -> Self {
        self.raw.weight = weight.raw();
        self
    }
    /// 0 = the OpenMP default; results are bitwise identical for any value.
    pub fn num_threads(mut self, n: i32) -> Self {
        self.raw.num_threads = n;
        self
    }
    pub fn raw(&self) -> &ffi::softce_options {
        &self.raw
    }
}

impl Default for Options<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// The loss (`softce_forward` without the log-sum-exp output).
pub fn forward(
    opts: &Options,
    logits: &Tensor,
    target: &Tensor,
    loss: &mut TensorMut,
) -> Result<(), Error> {
    // SAFETY: every descriptor borrows live memory of its shape; outputs are borrowed mutably.
    check(unsafe {
        ffi::softce_forward(
            opts.raw(),
            logits.raw(),
            target.raw(),
            loss.raw(),
            ptr::null(),
        )
    })
}

/// The loss and its gradient with respect to the logits, in one pass.
pub fn forward_backward(
    opts: &Options,
    logits: &Tensor,
    target: &Tensor,
    loss: &mut TensorMut,
    grad_logits: &mut TensorMut,
) -> Result<(), Error> {
    // SAFETY: as in forward; the borrow checker keeps grad_logits apart from the inputs.
    check(unsafe {
        ffi::softce_forward_backward(
            opts.raw(),
            logits.raw(),
            target.raw(),
            ptr::null(),
            loss.raw(),
            grad_logits.raw(),
        )
    })
}

/// The training fast path: the gradient overwrites the logits (the same descriptor is passed
/// as logits and grad_logits, which the library allows).
pub fn forward_backward_in_place(
    opts: &Options,
    logits: &mut TensorMut,
    target: &Tensor,
    loss: &mut TensorMut,
) -> Result<(), Error> {
    // SAFETY: logits is borrowed mutably; in place is exactly the case the C API permits.
    check(unsafe {
        ffi::softce_forward_backward(
            opts.raw(),
            logits.raw(),
            target.raw(),
            ptr::null(),
            loss.raw(),
            logits.raw(),
        )
    })
}

/// Gradient with respect to a soft target (`softce_backward` with only grad_target).
pub fn target_gradient(
    opts: &Options,
    logits: &Tensor,
    target: &Tensor,
    grad_target: &mut TensorMut,
) -> Result<(), Error> {
    // SAFETY: as in forward.
    check(unsafe {
        ffi::softce_backward(
            opts.raw(),
            logits.raw(),
            target.raw(),
            ptr::null(),
            ptr::null(),
            ptr::null(),
            grad_target.raw(),
        )
    })
}

/// log_softmax along the class axis.
pub fn log_softmax(logits: &Tensor, out: &mut TensorMut) -> Result<(), Error> {
    // SAFETY: as in forward.
    check(unsafe { ffi::softce_log_softmax(ptr::null(), logits.raw(), out.raw()) })
}
