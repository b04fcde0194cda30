//! Shape checks shared by the strategies: each failure names the array and its expected shape.

use crate::ActiveError;

/// A selection of `budget` items from `pool` candidates must fit.
pub fn budget(budget: usize, pool: usize) -> Result<(), ActiveError> {
    if budget > pool {
        return Err(ActiveError::BudgetTooLarge { budget, pool });
    }
    Ok(())
}

/// `probs` must be `[n, classes]` with `classes >= 1`.
pub fn probs(what: &str, probs: &[f32], n: usize, classes: usize) -> Result<(), ActiveError> {
    if classes == 0 {
        return Err(ActiveError::InvalidParam {
            name: "classes",
            value: "0".into(),
            reason: "at least one class is needed",
        });
    }
    let expected = n * classes;
    if probs.len() != expected {
        return Err(ActiveError::shape(
            format!("{what} [n={n}, C={classes}]"),
            expected,
            probs.len(),
        ));
    }
    Ok(())
}

/// `blocks` must hold one `[rows, d_m]` array per entry of `dims`.
pub fn blocks(
    what: &str,
    blocks: &[Vec<f32>],
    rows: usize,
    dims: &[usize],
) -> Result<(), ActiveError> {
    if dims.is_empty() {
        return Err(ActiveError::InvalidParam {
            name: "modalities",
            value: "0".into(),
            reason: "at least one modality is needed",
        });
    }
    if blocks.len() != dims.len() {
        return Err(ActiveError::shape(
            format!("{what} (number of modality blocks)"),
            dims.len(),
            blocks.len(),
        ));
    }
    for (m, (b, &d)) in blocks.iter().zip(dims).enumerate() {
        if b.len() != rows * d {
            return Err(ActiveError::shape(
                format!("{what}[{m}] [n={rows}, d={d}]"),
                rows * d,
                b.len(),
            ));
        }
    }
    Ok(())
}
