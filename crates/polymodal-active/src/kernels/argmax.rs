//! Deterministic parallel arg-max: the largest value wins, ties go to the lowest index, NaN never
//! wins. The result does not depend on how rayon splits the work.

use rayon::prelude::*;

use super::blocks::ROW_CHUNK;

/// `(index, value)` of the better of two candidates under the rule above.
#[inline]
pub fn better(a: Option<(usize, f32)>, b: Option<(usize, f32)>) -> Option<(usize, f32)> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) => {
            if y.1 > x.1 || (y.1 == x.1 && y.0 < x.0) {
                Some(y)
            } else {
                Some(x)
            }
        }
    }
}

/// Arg-max over `values` restricted to indices where `eligible(i)` holds.
pub fn argmax_where(values: &[f32], eligible: impl Fn(usize) -> bool + Sync) -> Option<usize> {
    values
        .par_chunks(ROW_CHUNK)
        .enumerate()
        .map(|(c, chunk)| {
            let mut best = None;
            for (o, &v) in chunk.iter().enumerate() {
                let i = c * ROW_CHUNK + o;
                if !v.is_nan() && eligible(i) {
                    best = better(best, Some((i, v)));
                }
            }
            best
        })
        .reduce(|| None, better)
        .map(|(i, _)| i)
}

/// Arg-max over all of `values`.
pub fn argmax(values: &[f32]) -> Option<usize> {
    argmax_where(values, |_| true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_to_the_lowest_index_and_nan_never_wins() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, f32::NAN]), Some(1));
        assert_eq!(argmax(&[f32::NAN, f32::NAN]), None);
        assert_eq!(argmax(&[]), None);
        let mut v = vec![0.5f32; 5 * ROW_CHUNK];
        v[3 * ROW_CHUNK + 1] = 2.0;
        v[4 * ROW_CHUNK] = 2.0;
        assert_eq!(argmax(&v), Some(3 * ROW_CHUNK + 1));
        assert_eq!(
            argmax_where(&v, |i| i != 3 * ROW_CHUNK + 1),
            Some(4 * ROW_CHUNK)
        );
    }
}
