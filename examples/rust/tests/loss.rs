//! Checks the bindings against losses and gradients computed here, in f64, from the formulas
//! (not from the library), and against values from PyTorch 1.13 (float64).

use softce::{ffi, Options, Reduction, Tensor, TensorMut};

const LOGITS: [f32; 12] = [1.0, 2.0, 0.5, 0.1, 0.2, 3.0, 2.0, -1.0, 0.0, 0.3, 0.3, 0.3];
const N: usize = 4;
const C: usize = 3;

/// log_softmax of one row, in f64.
fn log_softmax_row(x: &[f32]) -> Vec<f64> {
    let m = x.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
    let lse = m + x.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
    x.iter().map(|&v| v as f64 - lse).collect()
}

/// PyTorch's hard-target cross-entropy: weights, ignore_index, label smoothing, mean.
fn reference_hard_mean(x: &[f32], t: &[i64], w: &[f64], ignore: i64, eps: f64) -> f64 {
    let (mut total, mut denom) = (0.0, 0.0);
    for (row, &target) in x.chunks(C).zip(t) {
        if target == ignore {
            continue;
        }
        let y = log_softmax_row(row);
        let nll = -w[target as usize] * y[target as usize];
        let smooth: f64 = (0..C).map(|c| -w[c] * y[c]).sum::<f64>() / C as f64;
        total += (1.0 - eps) * nll + eps * smooth;
        denom += w[target as usize];
    }
    total / denom
}

fn assert_close(got: f64, want: f64, rel: f64) {
    assert!(
        (got - want).abs() <= rel * want.abs().max(1e-30),
        "got {}, want {}",
        got,
        want
    );
}

#[test]
fn version_is_1_x() {
    assert!(
        softce::version().starts_with("1."),
        "version {}",
        softce::version()
    );
    assert_eq!(unsafe { ffi::softce_version() } / 10000, 1);
}

#[test]
fn struct_layouts_match_the_header() {
    // x86_64 / aarch64 (LP64): the sizes the C compiler gives (a mismatch is also caught by the
    // library, which checks struct_size: every other test would fail with STRUCT_SIZE).
    assert_eq!(std::mem::size_of::<ffi::softce_tensor>(), 152);
    assert_eq!(std::mem::size_of::<ffi::softce_options>(), 136);
}

#[test]
fn hard_targets_match_a_reference() {
    let labels = [1i64, 2, 0, -100];
    let weight = [1.0f32, 2.0, 0.5];
    let w64: Vec<f64> = weight.iter().map(|&v| v as f64).collect();
    let x = Tensor::new(&LOGITS, &[N as i64, C as i64]).unwrap();
    let t = Tensor::new(&labels, &[N as i64]).unwrap();
    let w = Tensor::new(&weight, &[C as i64]).unwrap();
    for &eps in &[0.0, 0.1, 1.0] {
        let mut loss = [0.0f64];
        let opts = Options::new().weight(&w).label_smoothing(eps);
        softce::forward(&opts, &x, &t, &mut TensorMut::scalar(&mut loss).unwrap()).unwrap();
        assert_close(
            loss[0],
            reference_hard_mean(&LOGITS, &labels, &w64, -100, eps),
            1e-6,
        );
    }
    // PyTorch: F.cross_entropy(x, t, weight=w) = 0.3295383771522594
    let mut loss = [0.0f32];
    let opts = Options::new().weight(&w);
    softce::forward(&opts, &x, &t, &mut TensorMut::scalar(&mut loss).unwrap()).unwrap();
    assert_close(loss[0] as f64, 0.3295383771522594, 1e-6);
}

#[test]
fn per_element_losses_with_reduction_none() {
    let labels = [1i32, 2, 0, 1];
    let x = Tensor::new(&LOGITS, &[N as i64, C as i64]).unwrap();
    let t = Tensor::new(&labels, &[N as i64]).unwrap();
    let mut losses = [0.0f64; N];
    let opts = Options::new().reduction(Reduction::None);
    softce::forward(
        &opts,
        &x,
        &t,
        &mut TensorMut::new(&mut losses, &[N as i64]).unwrap(),
    )
    .unwrap();
    for i in 0..N {
        let y = log_softmax_row(&LOGITS[i * C..(i + 1) * C]);
        assert_close(losses[i], -y[labels[i] as usize], 1e-6);
    }
}

#[test]
fn soft_targets_loss_and_gradients() {
    let probs = [
        0.1f32,
        0.7,
        0.2,
        0.0,
        0.0,
        1.0,
        0.5,
        0.25,
        0.25,
        1.0 / 3.0,
        1.0 / 3.0,
        1.0 / 3.0,
    ];
    let x = Tensor::new(&LOGITS, &[N as i64, C as i64]).unwrap();
    let p = Tensor::new(&probs, &[N as i64, C as i64]).unwrap();
    let (mut loss, mut grad, mut grad_p) = ([0.0f32], [0.0f32; N * C], [0.0f32; N * C]);
    let opts = Options::new().reduction(Reduction::Sum);
    softce::forward_backward(
        &opts,
        &x,
        &p,
        &mut TensorMut::scalar(&mut loss).unwrap(),
        &mut TensorMut::new(&mut grad, &[N as i64, C as i64]).unwrap(),
    )
    .unwrap();
    softce::target_gradient(
        &opts,
        &x,
        &p,
        &mut TensorMut::new(&mut grad_p, &[N as i64, C as i64]).unwrap(),
    )
    .unwrap();
    let mut want = 0.0;
    for i in 0..N {
        let y = log_softmax_row(&LOGITS[i * C..(i + 1) * C]);
        let row_sum: f64 = (0..C).map(|c| probs[i * C + c] as f64).sum();
        for c in 0..C {
            let q = probs[i * C + c] as f64;
            want -= q * y[c];
            let g = y[c].exp() * row_sum - q; // exact also when a row does not sum to 1
            assert!(
                (grad[i * C + c] as f64 - g).abs() < 1e-6,
                "grad[{}][{}]",
                i,
                c
            );
            assert!(
                (grad_p[i * C + c] as f64 + y[c]).abs() < 1e-6,
                "grad_p[{}][{}]",
                i,
                c
            );
        }
    }
    assert_close(loss[0] as f64, want, 1e-6);
}

#[test]
fn in_place_training_step_gradient() {
    let labels = [0i64, 2, 1, 1];
    let mut z = LOGITS;
    let mut loss = [0.0f64];
    {
        let mut zt = TensorMut::new(&mut z, &[N as i64, C as i64]).unwrap();
        let t = Tensor::new(&labels, &[N as i64]).unwrap();
        let mut l = TensorMut::scalar(&mut loss).unwrap();
        softce::forward_backward_in_place(&Options::new(), &mut zt, &t, &mut l).unwrap();
    }
    let mut want_loss = 0.0;
    for i in 0..N {
        let y = log_softmax_row(&LOGITS[i * C..(i + 1) * C]);
        want_loss -= y[labels[i] as usize] / N as f64;
        for c in 0..C {
            let onehot = if c as i64 == labels[i] { 1.0 } else { 0.0 };
            let g = (y[c].exp() - onehot) / N as f64;
            assert!(
                (z[i * C + c] as f64 - g).abs() < 1e-6,
                "grad[{}][{}] = {}",
                i,
                c,
                z[i * C + c]
            );
        }
    }
    assert_close(loss[0], want_loss, 1e-6);
}

#[test]
fn class_axis_last_through_strides() {
    // The (C, N) transpose of LOGITS in memory, described as (N, C) with strides (1, N).
    let mut transposed = [0.0f32; N * C];
    for i in 0..N {
        for c in 0..C {
            transposed[c * N + i] = LOGITS[i * C + c];
        }
    }
    let x = unsafe {
        Tensor::new(&transposed, &[N as i64, C as i64])
            .unwrap()
            .with_strides(&[1, N as i64])
    };
    let mut out = [0.0f32; N * C];
    softce::log_softmax(
        &x,
        &mut TensorMut::new(&mut out, &[N as i64, C as i64]).unwrap(),
    )
    .unwrap();
    for i in 0..N {
        let y = log_softmax_row(&LOGITS[i * C..(i + 1) * C]);
        for c in 0..C {
            assert!((out[i * C + c] as f64 - y[c]).abs() < 1e-6);
        }
    }
}

#[test]
fn errors_carry_status_name_and_detail() {
    let labels = [1i64, 2, 7, 0];
    let x = Tensor::new(&LOGITS, &[N as i64, C as i64]).unwrap();
    let t = Tensor::new(&labels, &[N as i64]).unwrap();
    let mut loss = [-1.0f32];
    let err = softce::forward(
        &Options::new(),
        &x,
        &t,
        &mut TensorMut::scalar(&mut loss).unwrap(),
    )
    .unwrap_err();
    assert_eq!(err.status, ffi::SOFTCE_ERROR_TARGET);
    assert_eq!(err.name, "SOFTCE_ERROR_TARGET");
    assert_eq!(err.detail, "target[2] = 7 is outside [0, 3)");
    assert_eq!(loss[0], -1.0, "a failed call writes nothing");

    let err = softce::forward(
        &Options::new().label_smoothing(-0.5),
        &x,
        &Tensor::new(&[0i64, 1, 2, 0], &[N as i64]).unwrap(),
        &mut TensorMut::scalar(&mut loss).unwrap(),
    )
    .unwrap_err();
    assert_eq!(err.status, ffi::SOFTCE_ERROR_OPTION);
    assert!(
        Tensor::new(&LOGITS, &[5, 3]).is_err(),
        "shape must match the slice"
    );
}
