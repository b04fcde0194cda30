//! 2D convolution as im2col / col2im around `gemm`, in NCHW: the backward passes (input
//! gradient, weight gradient, bias gradient) and the forward pass for inputs with more than a
//! few channels per group.
//!
//! burn-backend's default `conv2d_x_backward` runs a transposed convolution, and its default
//! `conv2d_weight_backward` runs a forward convolution with batch and channels swapped: a
//! "batch" of `c_in` images with `batch_size` channels convolved by a kernel as large as the
//! output map. Neither shape suits the forward kernels, so a training step used to spend most
//! of its time in these two calls. Here both are written as im2col / col2im around `gemm`:
//!
//! - weight gradient: `dW[o, (c, kh, kw)] = sum_n dY_n[o, p] * col_n[(c, kh, kw), p]`, one
//!   gemm per chunk of samples with the chunk's columns side by side (`k = chunk * out_h *
//!   out_w`). Chunks run in parallel and their partial sums are added in chunk order. The chunk
//!   size depends only on the batch size, so the result does not depend on the thread count.
//! - input gradient: `dcol_n = W^T dY_n` (one gemm per sample), then col2im adds every column
//!   back into the input positions it was read from. Samples run in parallel and write
//!   disjoint outputs.
//! - bias gradient: a sum over batch and positions, without the copy a reshape of the
//!   swapped-dims tensor would make.
//! - forward: `Y_n = W col_n (+ b)`, one gemm per sample written straight into the NCHW output;
//!   samples run in parallel. The generic forward kernel in `conv.rs` converts the whole input
//!   to NHWC on one thread and copies every tile's result; this one does neither. Inputs with
//!   at most 4 channels per group, 1x1 and depthwise kernels keep their dedicated paths there.
//!
//! Any stride, padding (symmetric or not: the output size is taken from the gradient's shape),
//! dilation and group count is supported. f16 and bf16 go through f32.

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::ConvOptions;
use burn_std::{Bytes, Shape, bf16, f16};
use core::mem::MaybeUninit;

use crate::{FlexTensor, Layout};

/// Element types with a native gemm in this module.
pub(crate) trait BwdElem:
    bytemuck::Pod + Copy + Send + Sync + Default + core::ops::AddAssign + 'static
{
    const ONE: Self;
}

impl BwdElem for f32 {
    const ONE: Self = 1.0;
}

impl BwdElem for f64 {
    const ONE: Self = 1.0;
}

/// Samples per weight-gradient chunk. Fixed (not derived from the thread count) so that the
/// order of the floating-point additions, and therefore the result, is the same on any machine.
const WEIGHT_GRAD_CHUNK: usize = 8;

/// Geometry of one conv2d, per sample.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    channels_in: usize,
    in_h: usize,
    in_w: usize,
    channels_out: usize,
    kernel_h: usize,
    kernel_w: usize,
    out_h: usize,
    out_w: usize,
    stride: [usize; 2],
    pad: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
}

impl Geometry {
    fn new(x_shape: &Shape, w_shape: &Shape, grad_shape: &Shape, options: &ConvOptions<2>) -> Self {
        assert_eq!(x_shape.num_dims(), 4, "conv2d backward: x must be 4D");
        assert_eq!(w_shape.num_dims(), 4, "conv2d backward: weight must be 4D");
        assert_eq!(grad_shape.num_dims(), 4, "conv2d backward: grad must be 4D");
        let groups = options.groups;
        assert!(groups >= 1, "conv2d backward: groups must be >= 1");
        assert_eq!(
            w_shape[1] * groups,
            x_shape[1],
            "conv2d backward: weight channels x groups must equal input channels"
        );
        assert_eq!(
            w_shape[0], grad_shape[1],
            "conv2d backward: weight and grad disagree on output channels"
        );
        assert_eq!(x_shape[0], grad_shape[0], "conv2d backward: batch mismatch");
        Self {
            channels_in: x_shape[1],
            in_h: x_shape[2],
            in_w: x_shape[3],
            channels_out: w_shape[0],
            kernel_h: w_shape[2],
            kernel_w: w_shape[3],
            out_h: grad_shape[2],
            out_w: grad_shape[3],
            stride: options.stride,
            pad: options.padding_begin(),
            dilation: options.dilation,
            groups,
        }
    }

    fn in_spatial(&self) -> usize {
        self.in_h * self.in_w
    }

    fn out_spatial(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Rows of the im2col matrix: `(c, kh, kw)` over all input channels.
    fn col_rows(&self) -> usize {
        self.channels_in * self.kernel_h * self.kernel_w
    }

    /// Rows of the im2col matrix that belong to one group.
    fn group_rows(&self) -> usize {
        self.col_rows() / self.groups
    }
}

/// Half-open range of output positions `o` whose input index `o * stride + offset` lies in
/// `[0, size)`.
fn valid_range(offset: isize, stride: usize, size: usize, out: usize) -> (usize, usize) {
    let s = stride as isize;
    let lo = if offset >= 0 {
        0
    } else {
        ((-offset) + s - 1) / s
    };
    let hi = if (size as isize) <= offset {
        0
    } else {
        ((size as isize - offset) + s - 1) / s
    };
    let hi = (hi as usize).min(out);
    let lo = (lo as usize).min(hi);
    (lo, hi)
}

/// `dst.copy_from_slice(src)` for the short rows of im2col (a feature-map row, a few dozen
/// elements at most): a libc `memcpy` call per row cost more than the copy itself (profile in
/// docs/BENCHMARKS.md, "Issue 11, fourth pass"). Up to 32 elements are moved by two
/// overlapping fixed-size copies, which compile to a few vector moves.
#[inline(always)]
fn copy_row<T: Copy>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    assert_eq!(n, src.len());
    #[inline(always)]
    fn two<T: Copy, const K: usize>(dst: &mut [T], src: &[T]) {
        let n = dst.len();
        let (d, s) = (&mut dst[..K], &src[..K]);
        d.copy_from_slice(s);
        let (d, s) = (&mut dst[n - K..], &src[n - K..]);
        d.copy_from_slice(s);
    }
    match n {
        0 => {}
        1 => dst[0] = src[0],
        2..=3 => {
            dst[0] = src[0];
            dst[n - 1] = src[n - 1];
            dst[n / 2] = src[n / 2];
        }
        4..=7 => two::<T, 4>(dst, src),
        8..=15 => two::<T, 8>(dst, src),
        16..=32 => two::<T, 16>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// `dst.fill(v)` for short runs, without a libc `memset` call (see [`copy_row`]).
#[inline(always)]
fn fill_row<T: Copy>(dst: &mut [T], v: T) {
    let n = dst.len();
    #[inline(always)]
    fn two<T: Copy, const K: usize>(dst: &mut [T], v: T) {
        let n = dst.len();
        dst[..K].copy_from_slice(&[v; K]);
        dst[n - K..].copy_from_slice(&[v; K]);
    }
    match n {
        0 => {}
        1 => dst[0] = v,
        2..=3 => {
            dst[0] = v;
            dst[n - 1] = v;
            dst[n / 2] = v;
        }
        4..=7 => two::<T, 4>(dst, v),
        8..=15 => two::<T, 8>(dst, v),
        16..=32 => two::<T, 16>(dst, v),
        _ => dst.fill(v),
    }
}

/// Fills the im2col matrix of one sample: row `(c, kh, kw)`, column `(oh, ow)`, rows `row_stride`
/// apart (a chunk of samples lays its columns side by side).
fn im2col<T: BwdElem>(x: &[T], col: &mut [T], row_stride: usize, g: &Geometry) {
    let p = g.out_spatial();
    let zero = T::default();
    for c in 0..g.channels_in {
        let plane = &x[c * g.in_spatial()..(c + 1) * g.in_spatial()];
        for kh in 0..g.kernel_h {
            for kw in 0..g.kernel_w {
                let row_idx = (c * g.kernel_h + kh) * g.kernel_w + kw;
                let row = &mut col[row_idx * row_stride..row_idx * row_stride + p];
                let off_w = (kw * g.dilation[1]) as isize - g.pad[1] as isize;
                let (lo, hi) = valid_range(off_w, g.stride[1], g.in_w, g.out_w);
                for oh in 0..g.out_h {
                    let dst = &mut row[oh * g.out_w..(oh + 1) * g.out_w];
                    let ih = (oh * g.stride[0] + kh * g.dilation[0]) as isize - g.pad[0] as isize;
                    if ih < 0 || ih as usize >= g.in_h || lo == hi {
                        fill_row(dst, zero);
                        continue;
                    }
                    let src = &plane[ih as usize * g.in_w..(ih as usize + 1) * g.in_w];
                    fill_row(&mut dst[..lo], zero);
                    fill_row(&mut dst[hi..], zero);
                    let first = (lo * g.stride[1]) as isize + off_w;
                    if g.stride[1] == 1 {
                        let first = first as usize;
                        copy_row(&mut dst[lo..hi], &src[first..first + (hi - lo)]);
                    } else {
                        for (i, d) in dst[lo..hi].iter_mut().enumerate() {
                            *d = src[first as usize + i * g.stride[1]];
                        }
                    }
                }
            }
        }
    }
}

/// Adds the columns of one sample's `dcol` (layout as in [`im2col`], rows `out_h * out_w`
/// apart) back into the input positions they were read from.
fn col2im<T: BwdElem>(dcol: &[T], dx: &mut [T], g: &Geometry) {
    let p = g.out_spatial();
    for c in 0..g.channels_in {
        let plane = &mut dx[c * g.in_spatial()..(c + 1) * g.in_spatial()];
        for kh in 0..g.kernel_h {
            for kw in 0..g.kernel_w {
                let row_idx = (c * g.kernel_h + kh) * g.kernel_w + kw;
                let row = &dcol[row_idx * p..(row_idx + 1) * p];
                let off_w = (kw * g.dilation[1]) as isize - g.pad[1] as isize;
                let (lo, hi) = valid_range(off_w, g.stride[1], g.in_w, g.out_w);
                if lo == hi {
                    continue;
                }
                for oh in 0..g.out_h {
                    let ih = (oh * g.stride[0] + kh * g.dilation[0]) as isize - g.pad[0] as isize;
                    if ih < 0 || ih as usize >= g.in_h {
                        continue;
                    }
                    let src = &row[oh * g.out_w..(oh + 1) * g.out_w];
                    let dst = &mut plane[ih as usize * g.in_w..(ih as usize + 1) * g.in_w];
                    let first = ((lo * g.stride[1]) as isize + off_w) as usize;
                    if g.stride[1] == 1 {
                        for (d, s) in dst[first..first + (hi - lo)].iter_mut().zip(&src[lo..hi]) {
                            *d += *s;
                        }
                    } else {
                        for (i, s) in src[lo..hi].iter().enumerate() {
                            dst[first + i * g.stride[1]] += *s;
                        }
                    }
                }
            }
        }
    }
}

/// `dst[m, n] (+)= lhs[m, k] * rhs[k, n]` with explicit strides (col stride, row stride).
#[allow(clippy::too_many_arguments)]
fn gemm_strided<T: BwdElem>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[T],
    lhs_cs: usize,
    lhs_rs: usize,
    rhs: &[T],
    rhs_cs: usize,
    rhs_rs: usize,
    parallelism: gemm::Parallelism,
) {
    // SAFETY: `dst` is initialised, so reading it (when accumulating) is fine.
    let dst = unsafe {
        core::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<MaybeUninit<T>>(), dst.len())
    };
    gemm_strided_uninit(
        m,
        n,
        k,
        dst,
        dst_rs,
        accumulate,
        lhs,
        lhs_cs,
        lhs_rs,
        rhs,
        rhs_cs,
        rhs_rs,
        parallelism,
    );
}

/// [`gemm_strided`] into a destination that may be uninitialised. Without `accumulate`, gemm
/// only writes `dst` (`read_dst = false` sets its alpha to zero, and gemm-common then stores
/// `beta * lhs * rhs` without loading `dst`; with `k == 0` it stores zeros), so the output need
/// not be zero-filled first.
/// With `accumulate`, the caller must have initialised the `m x n` block.
#[allow(clippy::too_many_arguments)]
fn gemm_strided_uninit<T: BwdElem>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [MaybeUninit<T>],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[T],
    lhs_cs: usize,
    lhs_rs: usize,
    rhs: &[T],
    rhs_cs: usize,
    rhs_rs: usize,
    parallelism: gemm::Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k > 0 {
        // Bounds of the largest element each operand is read or written at.
        assert!((m - 1) * dst_rs + n <= dst.len());
        assert!((m - 1) * lhs_rs + (k - 1) * lhs_cs < lhs.len());
        assert!((k - 1) * rhs_rs + (n - 1) * rhs_cs < rhs.len());
    }
    // SAFETY: the asserts above keep every access of gemm inside the three slices, and `dst`
    // is borrowed mutably, so nothing else aliases it. gemm reads `dst` only when
    // `accumulate` is set, and then the caller has initialised it.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr().cast::<T>(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            parallelism,
        );
    }
}

fn gemm_parallelism(ops: usize) -> gemm::Parallelism {
    #[cfg(feature = "rayon")]
    if ops >= 192 * 192 * 192 {
        return gemm::Parallelism::Rayon(0);
    }
    let _ = ops;
    gemm::Parallelism::None
}

/// Weight gradient `[c_out, c_in / groups, kh, kw]` of one chunk of samples, unreduced.
fn weight_grad_chunk<T: BwdElem>(
    x: &[T],
    dy: &[T],
    first: usize,
    count: usize,
    g: &Geometry,
    parallelism: gemm::Parallelism,
) -> Vec<T> {
    let p = g.out_spatial();
    let width = count * p;
    let rows = g.col_rows();
    let x_len = g.channels_in * g.in_spatial();
    let dy_len = g.channels_out * p;

    let mut col = vec![T::default(); rows * width];
    // dY of the chunk as [c_out, count * p], matching the columns of `col`.
    let mut dy_t = vec![T::default(); g.channels_out * width];
    for j in 0..count {
        let n = first + j;
        im2col(&x[n * x_len..(n + 1) * x_len], &mut col[j * p..], width, g);
        let dy_n = &dy[n * dy_len..(n + 1) * dy_len];
        for o in 0..g.channels_out {
            dy_t[o * width + j * p..o * width + (j + 1) * p]
                .copy_from_slice(&dy_n[o * p..(o + 1) * p]);
        }
    }

    let og = g.channels_out / g.groups;
    let kg = g.group_rows();
    let mut dw = vec![T::default(); g.channels_out * kg];
    for grp in 0..g.groups {
        // dW_g [og, kg] = dY_g [og, width] * col_g^T [width, kg]
        gemm_strided(
            og,
            kg,
            width,
            &mut dw[grp * og * kg..],
            kg,
            false,
            &dy_t[grp * og * width..],
            1,
            width,
            &col[grp * kg * width..],
            width,
            1,
            parallelism,
        );
    }
    dw
}

fn weight_grad_typed<T: BwdElem>(x: &[T], dy: &[T], batch: usize, g: &Geometry) -> Vec<T> {
    let chunks: Vec<(usize, usize)> = (0..batch)
        .step_by(WEIGHT_GRAD_CHUNK)
        .map(|s| (s, WEIGHT_GRAD_CHUNK.min(batch - s)))
        .collect();
    let len = g.channels_out * g.group_rows();
    if chunks.len() <= 1 {
        let ops = g.channels_out * g.group_rows() * batch * g.out_spatial();
        return match chunks.first() {
            Some(&(s, n)) => weight_grad_chunk(x, dy, s, n, g, gemm_parallelism(ops)),
            None => vec![T::default(); len],
        };
    }

    #[cfg(feature = "rayon")]
    let partials: Vec<Vec<T>> = {
        use rayon::prelude::*;
        chunks
            .par_iter()
            .map(|&(s, n)| weight_grad_chunk(x, dy, s, n, g, gemm::Parallelism::None))
            .collect()
    };
    #[cfg(not(feature = "rayon"))]
    let partials: Vec<Vec<T>> = chunks
        .iter()
        .map(|&(s, n)| weight_grad_chunk(x, dy, s, n, g, gemm::Parallelism::None))
        .collect();

    let mut out = vec![T::default(); len];
    for part in &partials {
        for (o, v) in out.iter_mut().zip(part) {
            *o += *v;
        }
    }
    out
}

/// Input gradient of one sample into `dx` (zeroed), with `dcol` as scratch.
fn input_grad_sample<T: BwdElem>(
    w: &[T],
    dy_n: &[T],
    dx: &mut [T],
    dcol: &mut [T],
    g: &Geometry,
    parallelism: gemm::Parallelism,
) {
    let p = g.out_spatial();
    let og = g.channels_out / g.groups;
    let kg = g.group_rows();
    for grp in 0..g.groups {
        // dcol_g [kg, p] = W_g^T [kg, og] * dY_g [og, p]; W_g is [og, kg] row-major.
        gemm_strided(
            kg,
            p,
            og,
            &mut dcol[grp * kg * p..],
            p,
            false,
            &w[grp * og * kg..],
            kg,
            1,
            &dy_n[grp * og * p..],
            1,
            p,
            parallelism,
        );
    }
    col2im(dcol, dx, g);
}

fn input_grad_typed<T: BwdElem>(w: &[T], dy: &[T], batch: usize, g: &Geometry) -> Vec<T> {
    let x_len = g.channels_in * g.in_spatial();
    let dy_len = g.channels_out * g.out_spatial();
    let scratch = g.col_rows() * g.out_spatial();
    let mut dx = vec![T::default(); batch * x_len];
    if x_len == 0 {
        return dx;
    }

    #[cfg(feature = "rayon")]
    if batch > 1 {
        use rayon::prelude::*;
        dx.par_chunks_mut(x_len).enumerate().for_each_init(
            || vec![T::default(); scratch],
            |dcol, (n, dx_n)| {
                let dy_n = &dy[n * dy_len..(n + 1) * dy_len];
                input_grad_sample(w, dy_n, dx_n, dcol, g, gemm::Parallelism::None);
            },
        );
        return dx;
    }

    let mut dcol = vec![T::default(); scratch];
    let ops = g.col_rows() * g.out_spatial() * (g.channels_out / g.groups);
    for (n, dx_n) in dx.chunks_mut(x_len).enumerate() {
        let dy_n = &dy[n * dy_len..(n + 1) * dy_len];
        input_grad_sample(w, dy_n, dx_n, &mut dcol, g, gemm_parallelism(ops));
    }
    dx
}

fn to_f32(t: &FlexTensor) -> FlexTensor {
    let shape = t.layout().shape().clone();
    let data: Vec<f32> = match t.dtype() {
        DType::F16 => t.storage::<f16>().iter().map(|v| v.to_f32()).collect(),
        DType::BF16 => t.storage::<bf16>().iter().map(|v| v.to_f32()).collect(),
        dtype => panic!("conv2d backward: unsupported dtype {dtype:?}"),
    };
    FlexTensor::new(Bytes::from_elems(data), Layout::contiguous(shape), DType::F32)
}

fn from_f32(t: FlexTensor, dtype: DType) -> FlexTensor {
    let shape = t.layout().shape().clone();
    let src: &[f32] = t.storage();
    let bytes = match dtype {
        DType::F16 => Bytes::from_elems(src.iter().map(|&v| f16::from_f32(v)).collect::<Vec<_>>()),
        DType::BF16 => {
            Bytes::from_elems(src.iter().map(|&v| bf16::from_f32(v)).collect::<Vec<_>>())
        }
        dtype => panic!("conv2d backward: unsupported dtype {dtype:?}"),
    };
    FlexTensor::new(bytes, Layout::contiguous(shape), dtype)
}

fn tensor<T: BwdElem>(data: Vec<T>, shape: Shape, dtype: DType) -> FlexTensor {
    FlexTensor::new(Bytes::from_elems(data), Layout::contiguous(shape), dtype)
}

/// Channels per group up to which `conv.rs`'s small-channel path is used instead (it accumulates
/// directly; a gemm with such a short inner dimension is mostly overhead).
const FORWARD_MIN_CHANNELS_PER_GROUP: usize = 5;

/// Whether [`conv2d_forward`] handles this convolution (symmetric padding, as `conv2d` passes
/// it after padding asymmetric inputs).
pub fn use_gemm_forward(x: &FlexTensor, weight: &FlexTensor, options: &ConvOptions<2>) -> bool {
    let w = weight.layout().shape();
    matches!(x.dtype(), DType::F32 | DType::F64)
        && x.dtype() == weight.dtype()
        && w.num_dims() == 4
        && w[1] >= FORWARD_MIN_CHANNELS_PER_GROUP
        && !(w[2] == 1 && w[3] == 1)
        && !options.is_asymmetric()
}

fn forward_typed<T: BwdElem>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    batch: usize,
    g: &Geometry,
) -> Vec<T> {
    let p = g.out_spatial();
    let x_len = g.channels_in * g.in_spatial();
    let y_len = g.channels_out * p;
    let og = g.channels_out / g.groups;
    let kg = g.group_rows();
    if y_len == 0 || kg == 0 {
        return vec![T::default(); batch * y_len];
    }
    // The output is written by gemm without reading it, so it is not zero-filled first (that
    // memset was 1-2 % of a training step).
    let mut y: Vec<T> = Vec::with_capacity(batch * y_len);
    let sample = |n: usize,
                  y_n: &mut [MaybeUninit<T>],
                  col: &mut [T],
                  parallelism: gemm::Parallelism| {
        im2col(&x[n * x_len..(n + 1) * x_len], col, p, g);
        for grp in 0..g.groups {
            // Y_g [og, p] = W_g [og, kg] * col_g [kg, p]
            gemm_strided_uninit(
                og,
                p,
                kg,
                &mut y_n[grp * og * p..],
                p,
                false,
                &w[grp * og * kg..],
                1,
                kg,
                &col[grp * kg * p..],
                1,
                p,
                parallelism,
            );
        }
        // SAFETY: the groups' gemms wrote all `channels_out` rows of `p` values of `y_n`.
        let y_n =
            unsafe { core::slice::from_raw_parts_mut(y_n.as_mut_ptr().cast::<T>(), y_len) };
        if let Some(b) = bias {
            for (row, &bo) in y_n.chunks_exact_mut(p).zip(b) {
                for v in row {
                    *v += bo;
                }
            }
        }
    };
    let scratch = g.col_rows() * p;
    let y_s = &mut y.spare_capacity_mut()[..batch * y_len];

    #[cfg(feature = "rayon")]
    if batch > 1 {
        use rayon::prelude::*;
        y_s.par_chunks_mut(y_len).enumerate().for_each_init(
            || vec![T::default(); scratch],
            |col, (n, y_n)| sample(n, y_n, col, gemm::Parallelism::None),
        );
        // SAFETY: every sample's `y_len` values were written above.
        unsafe { y.set_len(batch * y_len) };
        return y;
    }

    let mut col = vec![T::default(); scratch];
    let ops = og * kg * p * g.groups;
    for (n, y_n) in y_s.chunks_mut(y_len).enumerate() {
        sample(n, y_n, &mut col, gemm_parallelism(ops));
    }
    // SAFETY: every sample's `y_len` values were written above.
    unsafe { y.set_len(batch * y_len) };
    y
}

/// Forward conv2d for the cases [`use_gemm_forward`] accepts.
pub fn conv2d_forward(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let dtype = x.dtype();
    let x = x.to_contiguous();
    let weight = weight.to_contiguous();
    let bias = bias.map(|b| b.to_contiguous());
    let (xs, ws) = (x.layout().shape(), weight.layout().shape());
    let out = |d: usize| {
        let span = options.dilation[d] * (ws[2 + d] - 1) + 1;
        let padded = xs[2 + d] + 2 * options.padding_begin()[d];
        assert!(padded >= span, "conv2d: kernel larger than the padded input");
        (padded - span) / options.stride[d] + 1
    };
    let y_shape = Shape::from(vec![xs[0], ws[0], out(0), out(1)]);
    let g = Geometry::new(xs, ws, &y_shape, options);
    let batch = xs[0];
    match dtype {
        DType::F32 => {
            let b = bias.as_ref().map(|b| b.storage::<f32>());
            tensor(
                forward_typed::<f32>(x.storage(), weight.storage(), b, batch, &g),
                y_shape,
                dtype,
            )
        }
        DType::F64 => {
            let b = bias.as_ref().map(|b| b.storage::<f64>());
            tensor(
                forward_typed::<f64>(x.storage(), weight.storage(), b, batch, &g),
                y_shape,
                dtype,
            )
        }
        dtype => panic!("conv2d_forward: unsupported dtype {dtype:?}"),
    }
}

/// Gradient of conv2d with respect to its input `x` (`[n, c_in, h, w]`).
pub fn conv2d_x_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let dtype = output_grad.dtype();
    let x_shape = x.layout().shape().clone();
    let weight = weight.to_contiguous();
    let grad = output_grad.to_contiguous();
    let g = Geometry::new(&x_shape, weight.layout().shape(), grad.layout().shape(), options);
    let batch = x_shape[0];
    match dtype {
        DType::F32 => tensor(
            input_grad_typed::<f32>(weight.storage(), grad.storage(), batch, &g),
            x_shape,
            dtype,
        ),
        DType::F64 => tensor(
            input_grad_typed::<f64>(weight.storage(), grad.storage(), batch, &g),
            x_shape,
            dtype,
        ),
        DType::F16 | DType::BF16 => {
            let (w, dy) = (to_f32(&weight), to_f32(&grad));
            let dx = input_grad_typed::<f32>(w.storage(), dy.storage(), batch, &g);
            from_f32(tensor(dx, x_shape, DType::F32), dtype)
        }
        dtype => panic!("conv2d_x_backward: unsupported dtype {dtype:?}"),
    }
}

/// Gradient of conv2d with respect to its weight (`[c_out, c_in / groups, kh, kw]`).
pub fn conv2d_weight_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let dtype = output_grad.dtype();
    let w_shape = weight.layout().shape().clone();
    let x = x.to_contiguous();
    let grad = output_grad.to_contiguous();
    let g = Geometry::new(x.layout().shape(), &w_shape, grad.layout().shape(), options);
    let batch = x.layout().shape()[0];
    match dtype {
        DType::F32 => tensor(
            weight_grad_typed::<f32>(x.storage(), grad.storage(), batch, &g),
            w_shape,
            dtype,
        ),
        DType::F64 => tensor(
            weight_grad_typed::<f64>(x.storage(), grad.storage(), batch, &g),
            w_shape,
            dtype,
        ),
        DType::F16 | DType::BF16 => {
            let (xf, dy) = (to_f32(&x), to_f32(&grad));
            let dw = weight_grad_typed::<f32>(xf.storage(), dy.storage(), batch, &g);
            from_f32(tensor(dw, w_shape, DType::F32), dtype)
        }
        dtype => panic!("conv2d_weight_backward: unsupported dtype {dtype:?}"),
    }
}

fn bias_grad_typed<T: BwdElem>(dy: &[T], batch: usize, channels: usize, p: usize) -> Vec<T> {
    // Each channel's sum runs over its positions in order, as a plain loop would, so the result
    // is the same bit for bit; summing `LANES` channels side by side only gives the CPU
    // independent additions to overlap instead of one chain of dependent ones.
    const LANES: usize = 8;
    let mut out = vec![T::default(); channels];
    for n in 0..batch {
        let sample = &dy[n * channels * p..(n + 1) * channels * p];
        let mut o = 0;
        while o + LANES <= channels {
            let rows: [&[T]; LANES] =
                core::array::from_fn(|l| &sample[(o + l) * p..(o + l + 1) * p]);
            let mut s = [T::default(); LANES];
            for i in 0..p {
                for l in 0..LANES {
                    s[l] += rows[l][i];
                }
            }
            for l in 0..LANES {
                out[o + l] += s[l];
            }
            o += LANES;
        }
        for (acc, row) in out[o..].iter_mut().zip(sample[o * p..].chunks_exact(p.max(1))) {
            let mut s = T::default();
            for v in row {
                s += *v;
            }
            *acc += s;
        }
    }
    out
}

/// Gradient of conv2d with respect to its bias (`[c_out]`): the sum of the output gradient
/// over batch and positions.
pub fn conv2d_bias_backward(bias: FlexTensor, output_grad: FlexTensor) -> FlexTensor {
    let dtype = output_grad.dtype();
    let b_shape = bias.layout().shape().clone();
    let grad = output_grad.to_contiguous();
    let s = grad.layout().shape();
    let (batch, channels, p) = (s[0], s[1], s[2] * s[3]);
    match dtype {
        DType::F32 => tensor(
            bias_grad_typed::<f32>(grad.storage(), batch, channels, p),
            b_shape,
            dtype,
        ),
        DType::F64 => tensor(
            bias_grad_typed::<f64>(grad.storage(), batch, channels, p),
            b_shape,
            dtype,
        ),
        DType::F16 | DType::BF16 => {
            let dy = to_f32(&grad);
            let db = bias_grad_typed::<f32>(dy.storage(), batch, channels, p);
            from_f32(tensor(db, b_shape, DType::F32), dtype)
        }
        dtype => panic!("conv2d_bias_backward: unsupported dtype {dtype:?}"),
    }
}
