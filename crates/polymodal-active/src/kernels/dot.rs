//! Vectorisable f32 inner loops: fixed-width lane accumulators let LLVM emit SIMD code without
//! `unsafe` or target-specific intrinsics.

const LANES: usize = 16;

fn sum_lanes(acc: [f32; LANES]) -> f32 {
    // pairwise, so the rounding does not depend on the vector width the compiler picked
    let mut w = acc;
    let mut len = LANES;
    while len > 1 {
        len /= 2;
        for k in 0..len {
            w[k] += w[k + len];
        }
    }
    w[0]
}

/// `a · b` over the common length.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (ca, ra) = a[..n].as_chunks::<LANES>();
    let (cb, rb) = b[..n].as_chunks::<LANES>();
    let mut acc = [0f32; LANES];
    for (x, y) in ca.iter().zip(cb) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    let mut s = sum_lanes(acc);
    for (&x, &y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// `||a - b||²` over the common length.
#[inline]
pub fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (ca, ra) = a[..n].as_chunks::<LANES>();
    let (cb, rb) = b[..n].as_chunks::<LANES>();
    let mut acc = [0f32; LANES];
    for (x, y) in ca.iter().zip(cb) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            let d = x - y;
            *s += d * d;
        }
    }
    let mut s = sum_lanes(acc);
    for (&x, &y) in ra.iter().zip(rb) {
        let d = x - y;
        s += d * d;
    }
    s
}

/// `[x · c0, x · c1, x · c2, x · c3]`: one load of `x` serves four dot products (the register
/// block of the tiled nearest-centre kernel). All five slices must have the same length.
#[inline]
pub fn dot4(x: &[f32], c: [&[f32]; 4]) -> [f32; 4] {
    const W: usize = 8;
    let n = x.len();
    let (cx, rx) = x.as_chunks::<W>();
    fn split(s: &[f32], n: usize) -> (&[[f32; W]], &[f32]) {
        s[..n].as_chunks::<W>()
    }
    let (c0, r0) = split(c[0], n);
    let (c1, r1) = split(c[1], n);
    let (c2, r2) = split(c[2], n);
    let (c3, r3) = split(c[3], n);
    let mut acc = [[0f32; W]; 4];
    for ((((x, y0), y1), y2), y3) in cx.iter().zip(c0).zip(c1).zip(c2).zip(c3) {
        for k in 0..W {
            acc[0][k] += x[k] * y0[k];
            acc[1][k] += x[k] * y1[k];
            acc[2][k] += x[k] * y2[k];
            acc[3][k] += x[k] * y3[k];
        }
    }
    let mut out = [0f32; 4];
    for (o, a) in out.iter_mut().zip(acc) {
        *o = a.iter().sum();
    }
    for (k, &xv) in rx.iter().enumerate() {
        out[0] += xv * r0[k];
        out[1] += xv * r1[k];
        out[2] += xv * r2[k];
        out[3] += xv * r3[k];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn kernels_match_naive_loops() {
        for n in [0, 1, 7, 16, 17, 33, 100] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            assert!((dot(&a, &b) - naive_dot(&a, &b)).abs() < 1e-4);
            let d: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
            assert!((sq_dist(&a, &b) - d).abs() < 1e-4);
            let r = dot4(&a, [&b, &a, &b, &a]);
            assert!((r[0] - naive_dot(&a, &b)).abs() < 1e-4);
            assert!((r[1] - naive_dot(&a, &a)).abs() < 1e-4);
        }
    }
}
