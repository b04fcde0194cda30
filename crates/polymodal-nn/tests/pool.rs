//! 2D max pooling on both backends (forward, indices and the gradient through burn's autodiff)
//! against a naive f64 implementation of the definition.
//!
//! The vendored burn-flex has a fast path for the 2x2 / stride 2 / unpadded case the CNN
//! encoder uses (`vendor/burn-flex/src/ops/pool2d_fast.rs`, see vendor/README.md) and keeps
//! its generic kernel for everything else. Both must pick the same element of every window,
//! or seeded training runs would change: the window is visited row by row, left to right,
//! its first element is taken, and a later one replaces the current maximum when it is
//! strictly greater or NaN (so the first of equal maxima wins, and the last NaN). The
//! reference below spells out exactly that rule; the gradient of `L = sum(pool(x) * r)` is
//! `r` routed to each window's chosen index (added up where windows overlap), and `0 + r`
//! turns a `-0.0` cotangent into `+0.0` as the generic kernel's scatter-add into zeros does.

mod common;

use burn::tensor::module::{max_pool2d, max_pool2d_with_indices};
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};

#[derive(Clone, Copy, Debug)]
struct Case {
    batch: usize,
    channels: usize,
    h: usize,
    w: usize,
    k: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
}

impl Case {
    /// The fast path's case: 2x2, stride 2, no padding, dilation 1.
    const fn k2s2(batch: usize, channels: usize, h: usize, w: usize) -> Self {
        Case {
            batch,
            channels,
            h,
            w,
            k: [2, 2],
            stride: [2, 2],
            pad: [0, 0],
            dilation: [1, 1],
            ceil_mode: false,
        }
    }

    /// Output size (PyTorch's rule, which burn-flex follows; symmetric padding only).
    fn out(&self) -> [usize; 2] {
        let o = |d: usize| {
            let input = [self.h, self.w][d];
            let eff = self.dilation[d] * (self.k[d] - 1) + 1;
            let num = input + 2 * self.pad[d] - eff;
            let s = self.stride[d];
            if self.ceil_mode {
                let out = num.div_ceil(s) + 1;
                if (out - 1) * s >= input + self.pad[d] {
                    out - 1
                } else {
                    out
                }
            } else {
                num / s + 1
            }
        };
        [o(0), o(1)]
    }

    fn options(&self) -> MaxPoolOptions<2> {
        MaxPoolOptions::new(self.k)
            .with_stride(self.stride)
            .with_padding(self.pad)
            .with_dilation(self.dilation)
            .with_ceil_mode(self.ceil_mode)
    }
}

const CASES: [Case; 8] = [
    // The encoder's two pooling layers (after 1 -> 16 and 16 -> 32 channel convolutions).
    Case::k2s2(3, 16, 12, 10),
    Case::k2s2(2, 32, 6, 8),
    // Batch of one, one channel.
    Case::k2s2(1, 1, 4, 6),
    // Odd sizes: the last row / column belongs to no window (fast path, floor mode).
    Case::k2s2(2, 3, 7, 9),
    // A large batch: the fast path's planes run in parallel.
    Case::k2s2(64, 16, 32, 32),
    // Odd sizes with ceil_mode: a partial last window (generic kernel).
    Case {
        ceil_mode: true,
        ..Case::k2s2(2, 3, 7, 5)
    },
    // Overlapping, padded windows (generic kernel).
    Case {
        k: [3, 3],
        pad: [1, 1],
        ..Case::k2s2(2, 4, 9, 8)
    },
    // Dilation and an unequal stride (generic kernel).
    Case {
        stride: [1, 2],
        dilation: [2, 1],
        ..Case::k2s2(1, 2, 8, 7)
    },
];

/// Inputs drawn from a few levels so that windows hold ties, a NaN in about one window in
/// ten (sometimes two in one window), and a cotangent `r` with some `-0.0`s.
fn values(c: &Case, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let x = (0..c.batch * c.channels * c.h * c.w)
        .map(|_| {
            if rng.random_range(0..40) == 0 {
                f64::NAN
            } else {
                f64::from(rng.random_range(-3i32..=3)) * 0.5
            }
        })
        .collect();
    let [oh, ow] = c.out();
    let r = (0..c.batch * c.channels * oh * ow)
        .map(|_| {
            if rng.random_range(0..10) == 0 {
                -0.0
            } else {
                f64::from(rng.random_range(-1.0f32..1.0))
            }
        })
        .collect();
    (x, r)
}

/// Naive pooling: (output, in-plane index per output).
fn naive_forward(c: &Case, x: &[f64]) -> (Vec<f64>, Vec<i64>) {
    let [oh, ow] = c.out();
    let (mut y, mut idx) = (Vec::new(), Vec::new());
    for plane in 0..c.batch * c.channels {
        for p in 0..oh {
            for q in 0..ow {
                let mut best: Option<(f64, i64)> = None;
                for kh in 0..c.k[0] {
                    for kw in 0..c.k[1] {
                        let i = (p * c.stride[0] + kh * c.dilation[0]) as i64 - c.pad[0] as i64;
                        let j = (q * c.stride[1] + kw * c.dilation[1]) as i64 - c.pad[1] as i64;
                        if i < 0 || j < 0 || i >= c.h as i64 || j >= c.w as i64 {
                            continue;
                        }
                        let at = i * c.w as i64 + j;
                        let v = x[plane * c.h * c.w + at as usize];
                        match best {
                            Some((m, _)) if !(v > m || v.is_nan()) => {}
                            _ => best = Some((v, at)),
                        }
                    }
                }
                let (m, at) = best.expect("every window holds an input element");
                y.push(m);
                idx.push(at);
            }
        }
    }
    (y, idx)
}

/// Naive gradient of `sum(pool(x) * r)`.
fn naive_grad(c: &Case, idx: &[i64], r: &[f64]) -> Vec<f64> {
    let [oh, ow] = c.out();
    let mut dx = vec![0.0; c.batch * c.channels * c.h * c.w];
    for (o, (&at, &g)) in idx.iter().zip(r).enumerate() {
        let plane = o / (oh * ow);
        dx[plane * c.h * c.w + at as usize] += g;
    }
    dx
}

fn tensor(v: &[f64], shape: [usize; 4], device: &Device) -> Tensor<4> {
    let data: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(data, shape), device)
}

fn to_vec(t: Tensor<4>) -> Vec<f64> {
    common::values(t).into_iter().map(f64::from).collect()
}

fn int_vec(t: Tensor<4, Int>) -> Vec<i64> {
    t.into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .unwrap()
}

/// Same value, NaN equal to NaN; with `bits`, also the same sign of zero.
fn assert_same(what: &str, c: &Case, got: &[f64], want: &[f64], bits: bool) {
    assert_eq!(got.len(), want.len(), "{what} {c:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let same = if g.is_nan() || w.is_nan() {
            g.is_nan() && w.is_nan()
        } else if bits {
            g.to_bits() == w.to_bits()
        } else {
            (g - w).abs() <= 1e-6 * (1.0 + w.abs())
        };
        assert!(same, "{what}[{i}] = {g}, expected {w} ({c:?})");
    }
}

/// Windows that do not overlap give every input at most one term, so the gradient is exact
/// (including the sign of zero); overlapping ones add f32 terms in some order.
fn exact_grad(c: &Case) -> bool {
    c.stride[0] >= c.k[0] * c.dilation[0] && c.stride[1] >= c.k[1] * c.dilation[1]
}

#[test]
fn the_cases_hold_ties_and_nans() {
    // Guard for the test data itself: the tie and NaN rules must actually be exercised.
    let c = CASES[0];
    let (x, _) = values(&c, 0);
    let (_, idx) = naive_forward(&c, &x);
    let [oh, ow] = c.out();
    let (mut ties, mut nans) = (0, 0);
    for (o, &at) in idx.iter().enumerate() {
        let plane = o / (oh * ow);
        let (p, q) = ((o % (oh * ow)) / ow, o % ow);
        let cells = [(0, 0), (0, 1), (1, 0), (1, 1)]
            .map(|(a, b)| x[plane * c.h * c.w + (2 * p + a) * c.w + 2 * q + b]);
        let m = x[plane * c.h * c.w + at as usize];
        if m.is_nan() {
            nans += 1;
        } else if cells.iter().filter(|&&v| v == m).count() > 1 {
            ties += 1;
        }
    }
    assert!(ties > 50 && nans > 10, "ties {ties}, NaN windows {nans}");
}

#[test]
fn naive_gradient_matches_finite_differences() {
    // Distinct inputs (no ties, no NaN): the loss is then locally linear in every input, so
    // central differences are exact up to rounding.
    for c in CASES {
        let n = c.batch * c.channels * c.h * c.w;
        if n > 10_000 {
            continue;
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut x: Vec<f64> = (0..n).map(|i| i as f64 * 0.01).collect();
        for i in (1..n).rev() {
            x.swap(i, rng.random_range(0..=i));
        }
        let (_, r) = values(&c, 6);
        let loss = |x: &[f64]| -> f64 {
            let (y, _) = naive_forward(&c, x);
            y.iter().zip(&r).map(|(a, b)| a * b).sum()
        };
        let (_, idx) = naive_forward(&c, &x);
        let dx = naive_grad(&c, &idx, &r);
        let h = 1e-4;
        for i in [0, n / 3, n / 2, n - 1] {
            let (mut plus, mut minus) = (x.clone(), x.clone());
            plus[i] += h;
            minus[i] -= h;
            let fd = (loss(&plus) - loss(&minus)) / (2.0 * h);
            assert!(
                (fd - dx[i]).abs() <= 1e-8,
                "dx[{i}] = {}, fd {fd} ({c:?})",
                dx[i]
            );
        }
    }
}

#[test]
fn max_pool_forward_indices_and_gradient_match_the_definition() {
    let device = polymodal_nn::backend::training_device();
    for (k, c) in CASES.iter().enumerate() {
        let (xv, rv) = values(c, 100 + k as u64);
        let (want_y, want_idx) = naive_forward(c, &xv);
        let want_dx = naive_grad(c, &want_idx, &rv);
        let [oh, ow] = c.out();

        let x = tensor(&xv, [c.batch, c.channels, c.h, c.w], &device).require_grad();
        let y = max_pool2d(x.clone(), c.options());
        assert_eq!(y.dims(), [c.batch, c.channels, oh, ow], "{c:?}");
        let r = tensor(&rv, [c.batch, c.channels, oh, ow], &device);
        let grads = (y.clone() * r).sum().backward();
        assert_same("y", c, &to_vec(y), &want_y, true);
        let dx = to_vec(x.grad(&grads).unwrap());
        assert_same("dx", c, &dx, &want_dx, exact_grad(c));

        let (y2, idx) = max_pool2d_with_indices(x.detach(), c.options());
        assert_same("y (with indices)", c, &to_vec(y2), &want_y, true);
        assert_eq!(int_vec(idx), want_idx, "indices {c:?}");
    }
}

#[test]
fn max_pool_on_the_inference_backend_matches_the_definition() {
    // No autodiff: burn calls the backend's pooling without indices.
    let device = polymodal_nn::backend::inference_device();
    for (k, c) in CASES.iter().enumerate() {
        let (xv, _) = values(c, 200 + k as u64);
        let (want_y, want_idx) = naive_forward(c, &xv);
        let x = tensor(&xv, [c.batch, c.channels, c.h, c.w], &device);
        assert_same(
            "y",
            c,
            &to_vec(max_pool2d(x.clone(), c.options())),
            &want_y,
            true,
        );
        let (y, idx) = max_pool2d_with_indices(x, c.options());
        assert_same("y (with indices)", c, &to_vec(y), &want_y, true);
        assert_eq!(int_vec(idx), want_idx, "indices {c:?}");
    }
}

#[test]
fn max_pool_of_a_non_contiguous_input() {
    // A permuted view (as a channels-last producer would hand over) is made contiguous first.
    let device = polymodal_nn::backend::training_device();
    let c = CASES[0];
    let (xv, rv) = values(&c, 9);
    let (want_y, want_idx) = naive_forward(&c, &xv);
    let want_dx = naive_grad(&c, &want_idx, &rv);
    let [oh, ow] = c.out();
    let nhwc = tensor(&xv, [c.batch, c.channels, c.h, c.w], &device)
        .permute([0, 2, 3, 1])
        .into_data();
    let x = Tensor::<4>::from_data(nhwc, &device)
        .permute([0, 3, 1, 2])
        .require_grad();
    let y = max_pool2d(x.clone(), c.options());
    let grads = (y.clone() * tensor(&rv, [c.batch, c.channels, oh, ow], &device))
        .sum()
        .backward();
    assert_same("y", &c, &to_vec(y), &want_y, true);
    assert_same("dx", &c, &to_vec(x.grad(&grads).unwrap()), &want_dx, true);
}
