//! Cross-modal retrieval on the cached embeddings of a pretraining run: Recall@1/5/10 and
//! median rank in both directions of every modality pair, and nearest neighbours of a query.
//!
//! Sample `i` of one modality is the only correct match of sample `i` of the other; candidates
//! are the split's samples that have both modalities. A tie with the correct match counts
//! against it (rank = 1 + number of other candidates at least as similar), so degenerate
//! embeddings (all equal) score rank `n`, not 1.

use crate::pretrain::{load_embeddings, load_model, Embeddings};
use crate::LabError;
use polymodal_core::{ModalityKind, Split};
use serde::Serialize;
use std::path::Path;

/// One direction `from → to`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Direction {
    pub from: String,
    pub to: String,
    pub queries: usize,
    pub recall_at_1: f64,
    pub recall_at_5: f64,
    pub recall_at_10: f64,
    pub median_rank: f64,
}

/// `rank[i]` (1-based) of candidate `i` among all candidates for query `i`, by dot product:
/// `queries`, `candidates` are `[n, d]` row-major.
pub fn ranks(queries: &[f32], candidates: &[f32], d: usize) -> Vec<usize> {
    let n = queries.len() / d.max(1);
    let dot =
        |a: &[f32], b: &[f32]| -> f64 { a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum() };
    (0..n)
        .map(|i| {
            let q = &queries[i * d..(i + 1) * d];
            let own = dot(q, &candidates[i * d..(i + 1) * d]);
            1 + (0..n)
                .filter(|&j| j != i && dot(q, &candidates[j * d..(j + 1) * d]) >= own)
                .count()
        })
        .collect()
}

/// Recall@1/5/10 and the median rank of `ranks` (the mean of the two middle ranks for an even
/// count; NaN for none).
pub fn summarise(ranks: &[usize]) -> (f64, f64, f64, f64) {
    let n = ranks.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN, f64::NAN);
    }
    let at = |k: usize| ranks.iter().filter(|&&r| r <= k).count() as f64 / n as f64;
    let mut s = ranks.to_vec();
    s.sort_unstable();
    let median = if n % 2 == 1 {
        s[n / 2] as f64
    } else {
        (s[n / 2 - 1] + s[n / 2]) as f64 / 2.0
    };
    (at(1), at(5), at(10), median)
}

/// Both directions of every modality pair on `rows`.
pub fn evaluate(emb: &Embeddings, rows: &[usize]) -> Vec<Direction> {
    let names = &emb.index.modalities;
    let mut out = Vec::new();
    for (a, b) in polymodal_train::pretrain::modality_pairs(names.len()) {
        let both: Vec<usize> = rows
            .iter()
            .copied()
            .filter(|&i| emb.index.present[a][i] && emb.index.present[b][i])
            .collect();
        let g = emb.gather(&both);
        for (x, y) in [(a, b), (b, a)] {
            let (r1, r5, r10, med) = summarise(&ranks(&g[x], &g[y], emb.dim));
            out.push(Direction {
                from: names[x].clone(),
                to: names[y].clone(),
                queries: both.len(),
                recall_at_1: r1,
                recall_at_5: r5,
                recall_at_10: r10,
                median_rank: med,
            });
        }
    }
    out
}

/// The `k` rows of `rows` most similar to `query` in modality `m` (rows lacking it skipped,
/// `exclude` never returned), best first, ties to the lower row.
pub fn nearest(
    emb: &Embeddings,
    m: usize,
    query: &[f32],
    rows: &[usize],
    exclude: Option<usize>,
    k: usize,
) -> Vec<(usize, f64)> {
    let mut scored: Vec<(usize, f64)> = rows
        .iter()
        .copied()
        .filter(|&i| emb.index.present[m][i] && Some(i) != exclude)
        .map(|i| {
            let s = emb
                .row(m, i)
                .iter()
                .zip(query)
                .map(|(&x, &y)| x as f64 * y as f64)
                .sum();
            (i, s)
        })
        .collect();
    scored.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
    scored.truncate(k);
    scored
}

/// What to look up.
pub enum Query {
    /// A sample id: its embedding in each of its modalities against each modality.
    Id(String),
    /// A text, embedded with the pretrained text encoder (a `text` modality of token ids).
    Text(String),
}

/// Neighbours of one query embedding in one target modality.
#[derive(Debug, Clone, Serialize)]
pub struct Neighbours {
    pub query_modality: String,
    pub target_modality: String,
    /// `(id, cosine)`, best first.
    pub hits: Vec<(String, f64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetrievalReport {
    pub split: Split,
    pub directions: Vec<Direction>,
    pub neighbours: Vec<Neighbours>,
}

/// `retrieve`: the metrics on `split`, plus neighbours of `query` (if any) among that split.
pub fn run(
    pretrained: &Path,
    split: Split,
    query: Option<&Query>,
    k: usize,
) -> Result<RetrievalReport, LabError> {
    let emb = load_embeddings(pretrained)?;
    let rows = emb.split_rows(split);
    let directions = evaluate(&emb, &rows);
    let names = emb.index.modalities.clone();
    let mut neighbours = Vec::new();
    let mut push = |qm: usize, q: &[f32], exclude: Option<usize>| {
        for t in 0..names.len() {
            let hits = nearest(&emb, t, q, &rows, exclude, k)
                .into_iter()
                .map(|(i, s)| (emb.index.ids[i].clone(), s))
                .collect();
            neighbours.push(Neighbours {
                query_modality: names[qm].clone(),
                target_modality: names[t].clone(),
                hits,
            });
        }
    };
    match query {
        None => {}
        Some(Query::Id(id)) => {
            let i = emb
                .index
                .ids
                .iter()
                .position(|x| x == id)
                .ok_or_else(|| LabError::UnknownId(id.clone()))?;
            for m in (0..names.len()).filter(|&m| emb.index.present[m][i]) {
                let q = emb.row(m, i).to_vec();
                push(m, &q, Some(i));
            }
        }
        Some(Query::Text(text)) => {
            let (model, cfg) = load_model(pretrained)?;
            let inputs = &cfg.base.dataset.inputs;
            let m = inputs
                .iter()
                .position(|i| i.kind == ModalityKind::Text && i.shape.len() == 1)
                .ok_or_else(|| {
                    LabError::Invalid(
                        "--query-text needs a text modality encoded from its tokens; this run \
                         has none (text as MiniLM vectors is a vector input: query by --query-id)"
                            .into(),
                    )
                })?;
            let tokens: Vec<f32> = polymodal_data::text::hash_token_ids(text, inputs[m].shape[0])
                .into_iter()
                .map(|t| t as f32)
                .collect();
            let q = polymodal_train::pretrain::embed_inputs(&model, m, tokens, 1);
            push(m, &q, None);
        }
    }
    Ok(RetrievalReport {
        split,
        directions,
        neighbours,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_ranks_on_a_constructed_case() {
        // Queries e0, e1, e2 (unit); candidates: 0 → e0 (exact), 1 → e2, 2 → (e1 + e2)/√2.
        // Query 0: own 1, others 0, 0 → rank 1. Query 1 (e1): own e1·e2 = 0, others
        // e1·e0 = 0 (tie, counts against) and e1·c2 = 0.707 → rank 3. Query 2 (e2): own
        // 0.707, c1 = 1 > own → rank 2.
        let q = [1., 0., 0., 0., 1., 0., 0., 0., 1.];
        let s = std::f32::consts::FRAC_1_SQRT_2;
        let c = [1., 0., 0., 0., 0., 1., 0., s, s];
        let r = ranks(&q, &c, 3);
        assert_eq!(r, vec![1, 3, 2]);
        let (r1, r5, r10, med) = summarise(&r);
        assert!((r1 - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!((r5, r10, med), (1.0, 1.0, 2.0));
        // Identical embeddings everywhere: every correct match ties with all, rank n.
        assert_eq!(ranks(&[1.0; 4], &[1.0; 4], 1), vec![4; 4]);
        // Even count: the median is the mean of the middle two.
        assert_eq!(summarise(&[1, 2, 6, 9]).3, 4.0);
    }
}
