//! The one top-k routine every score-only strategy shares.

use crate::ActiveError;

/// Positions of the `k` highest scores, best first; ties go to the lower position, so the result
/// is deterministic. `O(n + k log k)`. A NaN score is an error naming `what`.
pub fn top_k(scores: &[f32], k: usize, what: &'static str) -> Result<Vec<usize>, ActiveError> {
    let n = scores.len();
    crate::check::budget(k, n)?;
    if let Some(position) = scores.iter().position(|x| x.is_nan()) {
        return Err(ActiveError::NonFinite { what, position });
    }
    if k == 0 {
        return Ok(Vec::new());
    }
    // total order: score descending, then position ascending
    let cmp = |&a: &usize, &b: &usize| scores[b].total_cmp(&scores[a]).then(a.cmp(&b));
    let mut idx: Vec<usize> = (0..n).collect();
    if k < n {
        idx.select_nth_unstable_by(k - 1, cmp);
        idx.truncate(k);
    }
    idx.sort_unstable_by(cmp);
    Ok(idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_first_ties_to_lower_position() {
        let s = [0.1, 0.9, 0.5, 0.9, 0.5, -1.0];
        assert_eq!(top_k(&s, 3, "s").unwrap(), vec![1, 3, 2]);
        assert_eq!(top_k(&s, 6, "s").unwrap(), vec![1, 3, 2, 4, 0, 5]);
        assert!(top_k(&s, 0, "s").unwrap().is_empty());
        assert!(matches!(
            top_k(&[0.0, f32::NAN], 1, "s"),
            Err(ActiveError::NonFinite { position: 1, .. })
        ));
    }
}
