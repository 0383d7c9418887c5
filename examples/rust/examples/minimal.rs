//! The README's C example (examples/minimal.c) in Rust: `cargo run --example minimal`.

use softce::{Options, Tensor, TensorMut};

fn main() -> Result<(), softce::Error> {
    let logits = [2.0f32, 1.0, 0.1, 0.5, 2.5, 0.3]; // N = 2, C = 3
    let labels = [0i64, 2]; // integer target => hard (class indices)
    let (mut loss, mut grad) = ([0.0f32], [0.0f32; 6]);
    softce::forward_backward(
        &Options::new(),
        &Tensor::new(&logits, &[2, 3])?,
        &Tensor::new(&labels, &[2])?,
        &mut TensorMut::scalar(&mut loss)?,
        &mut TensorMut::new(&mut grad, &[2, 3])?,
    )?;
    println!(
        "loss = {:.6}, grad[0] = {{{:.4}, {:.4}, {:.4}}}",
        loss[0], grad[0], grad[1], grad[2]
    );
    Ok(())
}
