//! Fast path for the most common 2D max pooling: 2x2 window, stride 2, no padding, dilation 1,
//! f32, NCHW. Forward (with and without indices) and backward.
//!
//! The generic kernel in `pool.rs` treats every 2D pooling as a 3D one and, for every output
//! element, computes the valid window range of each of the three axes with integer divisions
//! before it visits the window. For a 2x2 window those divisions cost many times more than the
//! four comparisons, and a training step of a small CNN spent over 40 % of its time there.
//! Here the window is read directly from two input rows, without divisions.
//!
//! The result is bit-identical to the generic kernel, including which index is kept:
//! the window is visited in the same order (row by row, left to right), the first element is
//! always taken, and a later element replaces the current maximum if it is strictly greater or
//! NaN (so the last NaN of a window wins). The backward pass writes `0 + grad` where the generic
//! one adds the gradient to a zeroed buffer, so even a `-0.0` gradient comes out as `+0.0`, as
//! there. Anything else (other dtypes, windows, strides, padding, dilation, `ceil_mode` with an
//! odd size, index dtypes other than i64/i32) returns `None` and the caller uses the generic
//! kernel.

use alloc::vec::Vec;
use burn_backend::{DType, Element};
use burn_std::{Bytes, Shape};
use core::mem::MaybeUninit;

use crate::{FlexTensor, Layout};

/// Index element types the fast path writes and reads natively.
trait PoolIndex: bytemuck::Pod + Element + Send + Sync {
    fn from_usize(i: usize) -> Self;
    fn to_i64(self) -> i64;
}

impl PoolIndex for i64 {
    #[inline(always)]
    fn from_usize(i: usize) -> Self {
        i as i64
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self
    }
}

impl PoolIndex for i32 {
    #[inline(always)]
    fn from_usize(i: usize) -> Self {
        i as i32
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self as i64
    }
}

/// `[batch, channels, in_h, in_w, out_h, out_w]` when the parameters are the ones this module
/// handles, `None` otherwise.
fn geometry(
    shape: &Shape,
    kernel_size: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
) -> Option<[usize; 6]> {
    if shape.num_dims() != 4
        || kernel_size != [2, 2]
        || stride != [2, 2]
        || padding != [0, 0]
        || dilation != [1, 1]
    {
        return None;
    }
    let (b, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
    // With ceil_mode an odd size gets a partial last window, which the generic kernel handles.
    if ceil_mode && (h % 2 == 1 || w % 2 == 1) {
        return None;
    }
    let (oh, ow) = (h / 2, w / 2);
    // Indices are positions within one plane; i32 must hold them.
    if b * c == 0 || oh == 0 || ow == 0 || h * w > i32::MAX as usize {
        return None;
    }
    Some([b, c, h, w, oh, ow])
}

/// Max of one 2x2 window in the generic kernel's visiting order, with its flat in-plane index.
#[inline(always)]
fn window_max(v: [f32; 4], i: [usize; 4]) -> (f32, usize) {
    let (mut m, mut at) = (v[0], i[0]);
    for k in 1..4 {
        if v[k] > m || v[k].is_nan() {
            m = v[k];
            at = i[k];
        }
    }
    (m, at)
}

/// One `[h, w]` plane: maxima into `out`, and their in-plane indices into `idx` if given.
///
/// The rows are walked as pairs of columns (`as_chunks`), so the loop carries no bounds checks.
#[inline(always)]
fn forward_plane<I: PoolIndex>(
    x: &[f32],
    w: usize,
    oh: usize,
    ow: usize,
    out: &mut [MaybeUninit<f32>],
    mut idx: Option<&mut [MaybeUninit<I>]>,
) {
    for r in 0..oh {
        let top = 2 * r * w;
        let row0 = x[top..top + 2 * ow].as_chunks::<2>().0;
        let row1 = x[top + w..top + w + 2 * ow].as_chunks::<2>().0;
        let out_row = &mut out[r * ow..(r + 1) * ow];
        match idx.as_deref_mut() {
            Some(idx) => {
                let idx_row = &mut idx[r * ow..(r + 1) * ow];
                let cells = row0.iter().zip(row1).zip(out_row.iter_mut().zip(idx_row));
                for (q, ((a, b), (o, i))) in cells.enumerate() {
                    let base = top + 2 * q;
                    let (m, at) = window_max(
                        [a[0], a[1], b[0], b[1]],
                        [base, base + 1, base + w, base + w + 1],
                    );
                    *o = MaybeUninit::new(m);
                    *i = MaybeUninit::new(I::from_usize(at));
                }
            }
            None => {
                for ((a, b), o) in row0.iter().zip(row1).zip(out_row.iter_mut()) {
                    let (m, _) = window_max([a[0], a[1], b[0], b[1]], [0, 1, 2, 3]);
                    *o = MaybeUninit::new(m);
                }
            }
        }
    }
}

/// Runs `f(plane, out_plane, idx_plane)` over all planes, in parallel when large enough.
/// Planes are independent, so the result does not depend on the thread count.
fn for_each_plane<T: Send, U: Send>(
    planes: usize,
    out: &mut [T],
    out_plane: usize,
    idx: Option<&mut [U]>,
    idx_plane: usize,
    total_work: usize,
    f: impl Fn(usize, &mut [T], Option<&mut [U]>) + Send + Sync,
) {
    #[cfg(feature = "rayon")]
    if total_work >= crate::ops::PARALLEL_THRESHOLD && planes > 1 {
        use rayon::prelude::*;
        match idx {
            Some(idx) => out
                .par_chunks_mut(out_plane)
                .zip(idx.par_chunks_mut(idx_plane))
                .enumerate()
                .for_each(|(p, (o, i))| f(p, o, Some(i))),
            None => out
                .par_chunks_mut(out_plane)
                .enumerate()
                .for_each(|(p, o)| f(p, o, None)),
        }
        return;
    }
    let _ = total_work;
    match idx {
        Some(idx) => {
            for (p, (o, i)) in out
                .chunks_mut(out_plane)
                .zip(idx.chunks_mut(idx_plane))
                .enumerate()
            {
                f(p, o, Some(i));
            }
        }
        None => {
            for (p, o) in out.chunks_mut(out_plane).enumerate() {
                f(p, o, None);
            }
        }
    }
    debug_assert_eq!(out.len(), planes * out_plane);
}

fn forward_impl<I: PoolIndex>(
    x: &FlexTensor,
    g: [usize; 6],
    with_indices: bool,
    idx_dtype: DType,
) -> (FlexTensor, Option<FlexTensor>) {
    let [b, c, h, w, oh, ow] = g;
    let x = x.to_contiguous();
    let x_data: &[f32] = x.storage();
    let planes = b * c;
    let n = planes * oh * ow;
    let mut out: Vec<f32> = Vec::with_capacity(n);
    let mut idx: Vec<I> = Vec::with_capacity(if with_indices { n } else { 0 });
    {
        let out_s = &mut out.spare_capacity_mut()[..n];
        let idx_s = if with_indices {
            Some(&mut idx.spare_capacity_mut()[..n])
        } else {
            None
        };
        for_each_plane(
            planes,
            out_s,
            oh * ow,
            idx_s,
            oh * ow,
            planes * h * w,
            |p, o, i| forward_plane::<I>(&x_data[p * h * w..(p + 1) * h * w], w, oh, ow, o, i),
        );
    }
    // SAFETY: `for_each_plane` visited every plane and `forward_plane` wrote every one of the
    // `oh * ow` elements of each (and of its indices when requested).
    unsafe {
        out.set_len(n);
        if with_indices {
            idx.set_len(n);
        }
    }
    let shape = Shape::from(alloc::vec![b, c, oh, ow]);
    let output = FlexTensor::new(
        Bytes::from_elems(out),
        Layout::contiguous(shape.clone()),
        DType::F32,
    );
    let indices = with_indices
        .then(|| FlexTensor::new(Bytes::from_elems(idx), Layout::contiguous(shape), idx_dtype));
    (output, indices)
}

/// Max pooling with indices (`indices_dtype` i64 or i32), or `None` if not handled here.
pub(crate) fn max_pool2d_with_indices(
    x: &FlexTensor,
    kernel_size: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
    indices_dtype: DType,
) -> Option<(FlexTensor, FlexTensor)> {
    if x.dtype() != DType::F32 {
        return None;
    }
    let g = geometry(
        x.layout().shape(),
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
    )?;
    let (out, idx) = match indices_dtype {
        DType::I64 => forward_impl::<i64>(x, g, true, DType::I64),
        DType::I32 => forward_impl::<i32>(x, g, true, DType::I32),
        _ => return None,
    };
    Some((out, idx.expect("indices requested")))
}

/// Max pooling without indices, or `None` if not handled here.
pub(crate) fn max_pool2d(
    x: &FlexTensor,
    kernel_size: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
) -> Option<FlexTensor> {
    if x.dtype() != DType::F32 {
        return None;
    }
    let g = geometry(
        x.layout().shape(),
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
    )?;
    Some(forward_impl::<i64>(x, g, false, DType::I64).0)
}

/// One plane of the backward pass: every input position gets `0 + grad` if it is its window's
/// recorded index and `0` otherwise; the row and column an odd size leaves out get `0`.
/// Returns false if an index lies outside its window (then nothing here is trusted).
///
/// Each window's two rows are walked as column pairs (`as_chunks_mut`) next to the gradient
/// and index rows, so the loop has no bounds checks and selects instead of branching.
#[inline(always)]
fn backward_plane<I: PoolIndex>(
    grad: &[f32],
    idx: &[I],
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    out: &mut [MaybeUninit<f32>],
) -> bool {
    let mut ok = true;
    let wi = w as i64;
    for r in 0..oh {
        let top = 2 * r * w;
        let (row0, row1) = out[top..top + 2 * w].split_at_mut(w);
        let grad_row = &grad[r * ow..(r + 1) * ow];
        let idx_row = &idx[r * ow..(r + 1) * ow];
        let pairs0 = row0[..2 * ow].as_chunks_mut::<2>().0;
        let pairs1 = row1[..2 * ow].as_chunks_mut::<2>().0;
        let cells = pairs0.iter_mut().zip(pairs1.iter_mut());
        for (q, ((p0, p1), (&g, &at))) in cells.zip(grad_row.iter().zip(idx_row)).enumerate() {
            let gv = 0.0f32 + g;
            // Offset of the recorded index from the window's top-left cell.
            let rel = at.to_i64() - (top + 2 * q) as i64;
            ok &= rel == 0 || rel == 1 || rel == wi || rel == wi + 1;
            p0[0] = MaybeUninit::new(if rel == 0 { gv } else { 0.0 });
            p0[1] = MaybeUninit::new(if rel == 1 { gv } else { 0.0 });
            p1[0] = MaybeUninit::new(if rel == wi { gv } else { 0.0 });
            p1[1] = MaybeUninit::new(if rel == wi + 1 { gv } else { 0.0 });
        }
        if w % 2 == 1 {
            row0[w - 1] = MaybeUninit::new(0.0);
            row1[w - 1] = MaybeUninit::new(0.0);
        }
    }
    for cell in &mut out[2 * oh * w..h * w] {
        *cell = MaybeUninit::new(0.0);
    }
    ok
}

fn backward_impl<I: PoolIndex>(
    grad: &FlexTensor,
    indices: &FlexTensor,
    g: [usize; 6],
) -> Option<FlexTensor> {
    let [b, c, h, w, oh, ow] = g;
    let grad = grad.to_contiguous();
    let indices = indices.to_contiguous();
    let grad_data: &[f32] = grad.storage();
    let idx_data: &[I] = indices.storage();
    let planes = b * c;
    let n = planes * h * w;
    let mut out: Vec<f32> = Vec::with_capacity(n);
    let ok = core::sync::atomic::AtomicBool::new(true);
    for_each_plane::<_, MaybeUninit<f32>>(
        planes,
        &mut out.spare_capacity_mut()[..n],
        h * w,
        None,
        0,
        n,
        |p, o, _| {
            let s = p * oh * ow..(p + 1) * oh * ow;
            if !backward_plane(&grad_data[s.clone()], &idx_data[s], h, w, oh, ow, o) {
                ok.store(false, core::sync::atomic::Ordering::Relaxed);
            }
        },
    );
    if !ok.into_inner() {
        return None;
    }
    // SAFETY: every plane was visited and `backward_plane` wrote all `h * w` of its elements.
    unsafe { out.set_len(n) };
    Some(FlexTensor::new(
        Bytes::from_elems(out),
        Layout::contiguous(Shape::from(alloc::vec![b, c, h, w])),
        DType::F32,
    ))
}

/// Backward of [`max_pool2d_with_indices`], or `None` if not handled here (the caller then
/// runs the generic scatter).
#[allow(clippy::too_many_arguments)]
pub(crate) fn max_pool2d_backward(
    x: &FlexTensor,
    kernel_size: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
    output_grad: &FlexTensor,
    indices: &FlexTensor,
) -> Option<FlexTensor> {
    if x.dtype() != DType::F32 || output_grad.dtype() != DType::F32 {
        return None;
    }
    let g = geometry(
        x.layout().shape(),
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
    )?;
    let [b, c, _, _, oh, ow] = g;
    let expected = [b, c, oh, ow];
    if output_grad.layout().shape().as_slice() != expected
        || indices.layout().shape().as_slice() != expected
    {
        return None;
    }
    match indices.dtype() {
        DType::I64 => backward_impl::<i64>(output_grad, indices, g),
        DType::I32 => backward_impl::<i32>(output_grad, indices, g),
        _ => None,
    }
}
