//! Outputs and gradients of conv2d, and max pooling's gradient, on the training backend,
//! against a naive f64 implementation of the definitions, which is itself checked by central
//! finite differences.
//!
//! The convolution runs in the vendored burn-flex (`vendor/burn-flex`, im2col / col2im + gemm,
//! see vendor/README.md); these tests pin it to the textbook sums `y = b + sum w x`,
//! `dx[n,c,i,j] = sum r[n,o,p,q] w[o,c,kh,kw]` over the positions that read `x[n,c,i,j]`,
//! `dw[o,c,kh,kw] = sum r[n,o,p,q] x[n,c,p*s+kh*d-pad, q*s+kw*d-pad]` and `db[o] = sum r`, for
//! the loss `L = sum(conv(x) * r)`, over strides, paddings (symmetric and not), dilations,
//! groups, one and many channels, and a batch of one.

mod common;

use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Tensor, TensorData};
use rand::{Rng, SeedableRng};

#[derive(Clone, Copy, Debug)]
struct Case {
    batch: usize,
    c_in: usize,
    c_out: usize,
    h: usize,
    w: usize,
    k: [usize; 2],
    stride: [usize; 2],
    /// (begin, end) padding per spatial dimension.
    pad: [(usize, usize); 2],
    dilation: [usize; 2],
    groups: usize,
}

impl Case {
    fn out(&self) -> [usize; 2] {
        let o = |d: usize| {
            let padded = [self.h, self.w][d] + self.pad[d].0 + self.pad[d].1;
            (padded - self.dilation[d] * (self.k[d] - 1) - 1) / self.stride[d] + 1
        };
        [o(0), o(1)]
    }
}

const CASES: [Case; 9] = [
    // The default model's layers: 3x3, same padding, 1 -> 16 and 16 -> 32 channels.
    Case {
        batch: 3,
        c_in: 1,
        c_out: 16,
        h: 12,
        w: 10,
        k: [3, 3],
        stride: [1, 1],
        pad: [(1, 1), (1, 1)],
        dilation: [1, 1],
        groups: 1,
    },
    Case {
        batch: 2,
        c_in: 16,
        c_out: 32,
        h: 7,
        w: 6,
        k: [3, 3],
        stride: [1, 1],
        pad: [(1, 1), (1, 1)],
        dilation: [1, 1],
        groups: 1,
    },
    // Batch of one, no padding, rectangular kernel.
    Case {
        batch: 1,
        c_in: 3,
        c_out: 4,
        h: 9,
        w: 8,
        k: [2, 3],
        stride: [1, 1],
        pad: [(0, 0), (0, 0)],
        dilation: [1, 1],
        groups: 1,
    },
    // Stride 2 with padding, and a stride that skips the last input row/column.
    Case {
        batch: 2,
        c_in: 5,
        c_out: 3,
        h: 9,
        w: 10,
        k: [3, 3],
        stride: [2, 2],
        pad: [(1, 1), (1, 1)],
        dilation: [1, 1],
        groups: 1,
    },
    Case {
        batch: 2,
        c_in: 2,
        c_out: 2,
        h: 8,
        w: 11,
        k: [3, 2],
        stride: [3, 2],
        pad: [(0, 0), (2, 2)],
        dilation: [1, 1],
        groups: 1,
    },
    // Dilation, and padding larger than the kernel reach on one side.
    Case {
        batch: 2,
        c_in: 6,
        c_out: 3,
        h: 9,
        w: 9,
        k: [3, 3],
        stride: [1, 2],
        pad: [(2, 2), (1, 1)],
        dilation: [2, 2],
        groups: 1,
    },
    // Groups (and depthwise).
    Case {
        batch: 2,
        c_in: 10,
        c_out: 6,
        h: 6,
        w: 7,
        k: [3, 3],
        stride: [1, 1],
        pad: [(1, 1), (1, 1)],
        dilation: [1, 1],
        groups: 2,
    },
    Case {
        batch: 1,
        c_in: 3,
        c_out: 3,
        h: 5,
        w: 5,
        k: [3, 3],
        stride: [1, 1],
        pad: [(1, 1), (1, 1)],
        dilation: [1, 1],
        groups: 3,
    },
    // Asymmetric padding ("same" padding of an even kernel).
    Case {
        batch: 9,
        c_in: 2,
        c_out: 3,
        h: 6,
        w: 5,
        k: [2, 2],
        stride: [1, 1],
        pad: [(0, 1), (1, 0)],
        dilation: [1, 1],
        groups: 1,
    },
];

struct Values {
    x: Vec<f64>,
    w: Vec<f64>,
    b: Vec<f64>,
    r: Vec<f64>,
}

fn values(c: &Case, seed: u64) -> Values {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut v = |n: usize| -> Vec<f64> {
        (0..n)
            .map(|_| f64::from(rng.random_range(-1.0f32..1.0)))
            .collect()
    };
    let [oh, ow] = c.out();
    Values {
        x: v(c.batch * c.c_in * c.h * c.w),
        w: v(c.c_out * (c.c_in / c.groups) * c.k[0] * c.k[1]),
        b: v(c.c_out),
        r: v(c.batch * c.c_out * oh * ow),
    }
}

/// Calls `f(output_index, x_index, w_index)` for every term of the convolution sum.
fn each_term(c: &Case, mut f: impl FnMut(usize, usize, usize)) {
    let [oh, ow] = c.out();
    let cg = c.c_in / c.groups;
    let og = c.c_out / c.groups;
    for n in 0..c.batch {
        for o in 0..c.c_out {
            let g = o / og;
            for oy in 0..oh {
                for ox in 0..ow {
                    let out_idx = ((n * c.c_out + o) * oh + oy) * ow + ox;
                    for ci in 0..cg {
                        let ch = g * cg + ci;
                        for ky in 0..c.k[0] {
                            let iy = (oy * c.stride[0] + ky * c.dilation[0]) as isize
                                - c.pad[0].0 as isize;
                            if iy < 0 || iy as usize >= c.h {
                                continue;
                            }
                            for kx in 0..c.k[1] {
                                let ix = (ox * c.stride[1] + kx * c.dilation[1]) as isize
                                    - c.pad[1].0 as isize;
                                if ix < 0 || ix as usize >= c.w {
                                    continue;
                                }
                                let x_idx =
                                    ((n * c.c_in + ch) * c.h + iy as usize) * c.w + ix as usize;
                                let w_idx = ((o * cg + ci) * c.k[0] + ky) * c.k[1] + kx;
                                f(out_idx, x_idx, w_idx);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `conv(x) + b` in f64.
fn naive_forward(c: &Case, v: &Values) -> Vec<f64> {
    let [oh, ow] = c.out();
    let mut y = vec![0f64; c.batch * c.c_out * oh * ow];
    for (i, yi) in y.iter_mut().enumerate() {
        *yi = v.b[(i / (oh * ow)) % c.c_out];
    }
    each_term(c, |out, xi, wi| y[out] += v.x[xi] * v.w[wi]);
    y
}

/// `L = sum(conv(x) * r)` in f64.
fn naive_loss(c: &Case, v: &Values) -> f64 {
    naive_forward(c, v)
        .iter()
        .zip(&v.r)
        .map(|(a, b)| a * b)
        .sum()
}

/// Analytic gradients of [`naive_loss`] from the definitions: (dx, dw, db).
fn naive_grads(c: &Case, v: &Values) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let [oh, ow] = c.out();
    let mut dx = vec![0f64; v.x.len()];
    let mut dw = vec![0f64; v.w.len()];
    let mut db = vec![0f64; c.c_out];
    each_term(c, |out, xi, wi| {
        dx[xi] += v.r[out] * v.w[wi];
        dw[wi] += v.r[out] * v.x[xi];
    });
    for (i, r) in v.r.iter().enumerate() {
        db[(i / (oh * ow)) % c.c_out] += r;
    }
    (dx, dw, db)
}

fn tensor<const D: usize>(v: &[f64], shape: [usize; D]) -> Tensor<D> {
    let d = polymodal_nn::backend::training_device();
    let data: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(data, shape), &d)
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    common::values(t).into_iter().map(f64::from).collect()
}

/// Burn's forward output and gradients (training backend): (y, dx, dw, db).
fn burn_run(c: &Case, v: &Values) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let [oh, ow] = c.out();
    let x = tensor(&v.x, [c.batch, c.c_in, c.h, c.w]).require_grad();
    let w = tensor(&v.w, [c.c_out, c.c_in / c.groups, c.k[0], c.k[1]]).require_grad();
    let b = tensor(&v.b, [c.c_out]).require_grad();
    let r = tensor(&v.r, [c.batch, c.c_out, oh, ow]);
    let options = ConvOptions::new_with_padding(c.stride, c.pad, c.dilation, c.groups);
    let y = conv2d(x.clone(), w.clone(), Some(b.clone()), options);
    assert_eq!(y.dims(), [c.batch, c.c_out, oh, ow], "{c:?}");
    let grads = (y.clone() * r).sum().backward();
    (
        to_vec(y),
        to_vec(x.grad(&grads).unwrap()),
        to_vec(w.grad(&grads).unwrap()),
        to_vec(b.grad(&grads).unwrap()),
    )
}

fn assert_close(what: &str, c: &Case, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what} {c:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        // f32 sums of at most a few hundred terms of magnitude <= 1.
        assert!(
            (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
            "{what}[{i}] = {g}, expected {w} ({c:?})"
        );
    }
}

#[test]
fn naive_gradients_match_finite_differences() {
    // Central differences of the f64 loss; the loss is linear in each of x, w and b, so they
    // are exact up to rounding.
    for (k, c) in CASES.iter().enumerate() {
        let v = values(c, k as u64);
        let (dx, dw, db) = naive_grads(c, &v);
        let h = 1e-3;
        let check = |grad: &[f64], which: usize| {
            let len = grad.len();
            for i in [0, len / 3, len / 2, len - 1] {
                let mut plus = Values {
                    x: v.x.clone(),
                    w: v.w.clone(),
                    b: v.b.clone(),
                    r: v.r.clone(),
                };
                let mut minus = Values {
                    x: v.x.clone(),
                    w: v.w.clone(),
                    b: v.b.clone(),
                    r: v.r.clone(),
                };
                let (p, m) = match which {
                    0 => (&mut plus.x, &mut minus.x),
                    1 => (&mut plus.w, &mut minus.w),
                    _ => (&mut plus.b, &mut minus.b),
                };
                p[i] += h;
                m[i] -= h;
                let fd = (naive_loss(c, &plus) - naive_loss(c, &minus)) / (2.0 * h);
                assert!(
                    (fd - grad[i]).abs() <= 1e-8 * (1.0 + fd.abs()),
                    "grad {which}[{i}] = {}, finite difference {fd} ({c:?})",
                    grad[i]
                );
            }
        };
        check(&dx, 0);
        check(&dw, 1);
        check(&db, 2);
    }
}

fn burn_grads(c: &Case, v: &Values) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (_, dx, dw, db) = burn_run(c, v);
    (dx, dw, db)
}

#[test]
fn conv2d_outputs_and_gradients_match_the_definition() {
    for (k, c) in CASES.iter().enumerate() {
        let v = values(c, 100 + k as u64);
        let (y, dx, dw, db) = burn_run(c, &v);
        assert_close("y", c, &y, &naive_forward(c, &v));
        let (ex, ew, eb) = naive_grads(c, &v);
        assert_close("dx", c, &dx, &ex);
        assert_close("dw", c, &dw, &ew);
        assert_close("db", c, &db, &eb);
    }
}

#[test]
fn conv2d_weight_gradient_sums_chunks_of_a_large_batch() {
    // 70 samples: the weight gradient is summed over chunks of 8 plus a remainder of 6.
    let c = Case {
        batch: 70,
        ..CASES[1]
    };
    let v = values(&c, 7);
    let (dx, dw, db) = burn_grads(&c, &v);
    let (ex, ew, eb) = naive_grads(&c, &v);
    assert_close("dx", &c, &dx, &ex);
    // 70 x 42 positions per weight: allow for the longer f32 sums.
    for (g, w) in dw.iter().zip(&ew) {
        assert!((g - w).abs() <= 1e-3 * (1.0 + w.abs()), "dw {g} vs {w}");
    }
    assert_close("db", &c, &db, &eb);
}

#[test]
fn conv2d_gradients_are_the_same_on_every_call() {
    let c = Case {
        batch: 33,
        ..CASES[1]
    };
    let v = values(&c, 3);
    let a = burn_grads(&c, &v);
    let b = burn_grads(&c, &v);
    let bits = |g: &(Vec<f64>, Vec<f64>, Vec<f64>)| {
        [&g.0, &g.1, &g.2].map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
    };
    assert_eq!(bits(&a), bits(&b));
}

#[test]
fn max_pool_gradient_routes_to_the_maximum() {
    // 2x2 pooling, stride 2, as in the CNN encoder: each window's gradient lands on its
    // largest input (inputs are distinct, so the maximum is unique).
    let (n, ch, h, w) = (2usize, 3usize, 6usize, 4usize);
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut xs: Vec<f64> = (0..n * ch * h * w).map(|i| i as f64 * 0.01).collect();
    for i in (1..xs.len()).rev() {
        xs.swap(i, rng.random_range(0..=i));
    }
    let r: Vec<f64> = (0..n * ch * (h / 2) * (w / 2))
        .map(|_| f64::from(rng.random_range(-1.0f32..1.0)))
        .collect();
    let x = tensor(&xs, [n, ch, h, w]).require_grad();
    let y = max_pool2d(x.clone(), MaxPoolOptions::new([2, 2]).with_stride([2, 2]));
    let grads = (y * tensor(&r, [n, ch, h / 2, w / 2])).sum().backward();
    let dx = to_vec(x.grad(&grads).unwrap());
    let mut want = vec![0f64; xs.len()];
    for plane in 0..n * ch {
        for oy in 0..h / 2 {
            for ox in 0..w / 2 {
                let idx = |dy: usize, dx: usize| plane * h * w + (2 * oy + dy) * w + 2 * ox + dx;
                let best = [idx(0, 0), idx(0, 1), idx(1, 0), idx(1, 1)]
                    .into_iter()
                    .max_by(|a, b| xs[*a].total_cmp(&xs[*b]))
                    .unwrap();
                want[best] += r[(plane * (h / 2) + oy) * (w / 2) + ox];
            }
        }
    }
    assert_eq!(dx.len(), want.len());
    for (g, e) in dx.iter().zip(&want) {
        assert!((g - e).abs() <= 1e-6, "{g} vs {e}");
    }
}

#[test]
fn conv2d_matches_the_definition_at_every_row_width() {
    // im2col copies and zero-fills each feature-map row with fixed-size moves chosen by the
    // row's length (1, 2-3, 4-7, 8-15, 16-32, longer); widths 1 to 40 cover every branch and
    // both ends of each. One input channel takes flex's small-channel forward (planes zeroed
    // by their own thread), six take the im2col + gemm forward (output never zero-filled).
    // Twelve output channels: the bias gradient sums eight channels side by side, then four
    // one by one.
    for w in [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40] {
        for c_in in [1, 6] {
            let c = Case {
                batch: 2,
                c_in,
                c_out: 12,
                h: 3,
                w,
                k: [3, 3],
                stride: [1, 1],
                pad: [(1, 1), (1, 1)],
                dilation: [1, 1],
                groups: 1,
            };
            let v = values(&c, 1000 + w as u64);
            let (y, dx, dw, db) = burn_run(&c, &v);
            assert_close("y", &c, &y, &naive_forward(&c, &v));
            let (ex, ew, eb) = naive_grads(&c, &v);
            assert_close("dx", &c, &dx, &ex);
            assert_close("dw", &c, &dw, &ew);
            assert_close("db", &c, &db, &eb);
        }
    }
}

#[test]
fn conv2d_bias_gradient_is_the_position_ordered_f32_sum() {
    // Bit for bit, not within a tolerance: for each channel, the f32 sum over positions in
    // order, one sample after another, which is what flex's sum-reduction fallback and the
    // earlier one-channel-at-a-time loop computed. Seeded training runs depend on this order.
    let c = Case {
        batch: 5,
        c_in: 6,
        c_out: 11,
        h: 9,
        w: 7,
        ..CASES[1]
    };
    let v = values(&c, 77);
    let (_, _, _, db) = burn_run(&c, &v);
    let [oh, ow] = c.out();
    let p = oh * ow;
    let r: Vec<f32> = v.r.iter().map(|&x| x as f32).collect();
    for (o, got) in db.iter().enumerate() {
        let mut acc = 0.0f32;
        for n in 0..c.batch {
            let base = (n * c.c_out + o) * p;
            let mut s = 0.0f32;
            for &x in &r[base..base + p] {
                s += x;
            }
            acc += s;
        }
        assert_eq!(
            (*got as f32).to_bits(),
            acc.to_bits(),
            "db[{o}] = {got}, sequential sum {acc}"
        );
    }
}

#[test]
fn conv2d_with_few_input_channels_sums_taps_in_kernel_order() {
    // Bit for bit: flex's small-channel forward (at most 4 input channels; the default model's
    // first layer has one) adds, for every output, `x * w` over input channels, then kernel
    // rows, then kernel columns, skipping taps outside the input, starting from +0.0, and adds
    // the bias last; no fused multiply-add. Seeded training runs depend on this order, so any
    // faster kernel for this path must keep it (widths 5 to 70 cover short rows, rows longer
    // than a vector, and a plane past flex's L1 threshold for its other loop order).
    for (k, (c_in, w)) in [(1, 5), (1, 8), (1, 13), (1, 28), (1, 70), (3, 32), (2, 9)]
        .into_iter()
        .enumerate()
    {
        let c = Case {
            batch: 2,
            c_in,
            c_out: 16,
            h: 6,
            w,
            k: [3, 3],
            stride: [1, 1],
            pad: [(1, 1), (1, 1)],
            dilation: [1, 1],
            groups: 1,
        };
        let v = values(&c, 500 + k as u64);
        let (y, _, _, _) = burn_run(&c, &v);
        let [oh, ow] = c.out();
        let f = |s: &[f64]| s.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        let (x, wt, b) = (f(&v.x), f(&v.w), f(&v.b));
        for n in 0..c.batch {
            for o in 0..c.c_out {
                for i in 0..oh {
                    for j in 0..ow {
                        let mut acc = 0.0f32;
                        for ci in 0..c.c_in {
                            for kh in 0..3 {
                                for kw in 0..3 {
                                    let (ih, iw) = (i + kh, j + kw);
                                    if ih < 1 || iw < 1 || ih > c.h || iw > c.w {
                                        continue;
                                    }
                                    let xv = x[((n * c.c_in + ci) * c.h + ih - 1) * c.w + iw - 1];
                                    acc += xv * wt[((o * c.c_in + ci) * 3 + kh) * 3 + kw];
                                }
                            }
                        }
                        let want = acc + b[o];
                        let got = y[((n * c.c_out + o) * oh + i) * ow + j] as f32;
                        assert_eq!(
                            got.to_bits(),
                            want.to_bits(),
                            "y[{n},{o},{i},{j}] = {got}, expected {want} ({c:?})"
                        );
                    }
                }
            }
        }
    }
}
