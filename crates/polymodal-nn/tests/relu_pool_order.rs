//! The CNN encoder applies each ReLU after its 2x2 max pooling instead of before it
//! (`crates/polymodal-nn/src/encoder.rs`), so the ReLU runs on a quarter of the elements. This
//! is only allowed because the two orders agree bit for bit, forward and backward, on the
//! training backend: ReLU is monotone, flex's ReLU maps every value that is not positive (and
//! not NaN) to `+0.0`, and its backward zeroes the gradient exactly where that happened. When a
//! window's maximum is positive both orders pick the same element; otherwise both output `+0.0`
//! and send `+0.0` to every input. These tests check that on inputs built to hit every case:
//! all-negative windows, ties of positive and of zero values, `-0.0`, NaN, `-0.0` and zero
//! cotangents, and odd sizes (the row and column no window covers).

mod common;

use burn::tensor::activation::relu;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Tensor, TensorData};
use rand::{Rng, SeedableRng};

fn tensor(v: &[f32], shape: [usize; 4]) -> Tensor<4> {
    let d = polymodal_nn::backend::training_device();
    Tensor::from_data(TensorData::new(v.to_vec(), shape), &d)
}

fn bits(t: Tensor<4>) -> Vec<u32> {
    common::values(t).into_iter().map(f32::to_bits).collect()
}

/// Values drawn from a small set so that windows tie, are all negative or all zero.
fn input(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let pool = [-2.0f32, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 1.0, 3.0];
    (0..n)
        .map(|_| match rng.random_range(0..40) {
            0 => f32::NAN,
            1 => -f32::NAN,
            k if k < 20 => pool[rng.random_range(0..pool.len())],
            _ => rng.random_range(-1.0f32..1.0),
        })
        .collect()
}

fn cotangent(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| match rng.random_range(0..10) {
            0 => -0.0,
            1 => 0.0,
            _ => rng.random_range(-1.0f32..1.0),
        })
        .collect()
}

/// (output bits, input-gradient bits) of `L = sum(f(x) * r)`.
fn run(x: &[f32], r: &[f32], shape: [usize; 4], relu_first: bool) -> (Vec<u32>, Vec<u32>) {
    let [b, c, h, w] = shape;
    let x = tensor(x, shape).require_grad();
    let pool = |t: Tensor<4>| max_pool2d(t, MaxPoolOptions::new([2, 2]).with_stride([2, 2]));
    let y = if relu_first {
        pool(relu(x.clone()))
    } else {
        relu(pool(x.clone()))
    };
    assert_eq!(y.dims(), [b, c, h / 2, w / 2]);
    let grads = (y.clone() * tensor(r, [b, c, h / 2, w / 2]))
        .sum()
        .backward();
    (bits(y), bits(x.grad(&grads).unwrap()))
}

#[test]
fn relu_after_pooling_equals_relu_before_it_bit_for_bit() {
    let (mut clamped, mut positive) = (0, 0);
    for (k, shape) in [[2, 3, 6, 4], [1, 1, 5, 7], [64, 16, 28, 28], [3, 32, 8, 8]]
        .into_iter()
        .enumerate()
    {
        let [b, c, h, w] = shape;
        let x = input(b * c * h * w, 10 + k as u64);
        let r = cotangent(b * c * (h / 2) * (w / 2), 20 + k as u64);
        let (y_old, dx_old) = run(&x, &r, shape, true);
        let (y_new, dx_new) = run(&x, &r, shape, false);
        assert_eq!(y_old, y_new, "forward differs for {shape:?}");
        assert_eq!(dx_old, dx_new, "input gradient differs for {shape:?}");
        clamped += y_new.iter().filter(|&&v| v == 0).count();
        positive += y_new.iter().filter(|&&v| f32::from_bits(v) > 0.0).count();
    }
    // The inputs did hit both cases the equality rests on.
    assert!(clamped > 0, "no window was clamped to +0.0");
    assert!(positive > 0, "no window had a positive maximum");
}
