//! Cold-start selection: choose the first `budget` samples to label from per-modality embeddings
//! alone (no labels, no model probabilities), e.g. the cached embeddings of a self-supervised
//! pretraining run (docs/METHODS.md §2).
//!
//! Input: `M x [n, d_m]` row-major embeddings in pool order. Each modality row is L2-normalised
//! here (a zero row stays zero), and every strategy works on the **joint embedding**
//! `e(i) = [u_1(i); ...; u_M(i)] / √M`, so `e(i)·e(j)` is the mean over modalities of the cosine
//! similarities and `||e(i)|| = 1` unless a modality row was zero. The output is pool positions
//! `0..n` in selection order.
//!
//! Strategies ([`ColdStartKind`]):
//! - `mmcsal`: exact lazy greedy on the objective
//!   `F(S) = w_cov · Cov(S) + γ · Div(S) + λ_align · Align(S)` (`w_cov = coverage_weight`,
//!   default 1), with
//!   - `Cov(S) = (1/|C|) Σ_{p ∈ C} max(0, max_{s ∈ S} k(p, s))`: facility location over a seeded
//!     uniform subsample `C` of at most `coverage_points` pool rows (all rows when the pool is not
//!     larger), where `k(i, j) = max(0, e(i)·e(j))` (`similarity = "cosine"`) or
//!     `exp((e(i)·e(j) − 1) / temperature)` (`similarity = "exp"`);
//!   - `Div(S) = −2 / (B(B − 1)) · Σ_{i < j ∈ S} k(i, j)` (0 when `B < 2`): minus the mean
//!     pairwise similarity of a full batch of `B = budget` samples, so a candidate's gain is
//!     larger the less similar it is to the samples already selected;
//!   - `Align(S) = (1/B) Σ_{i ∈ S} a(i)`, `a(i)` the cosine between the sample's modality
//!     embeddings `u_m(i)·u_m'(i)` averaged over the `M(M−1)/2` pairs (0 for one modality; it
//!     needs every `d_m` equal, i.e. one shared space).
//!
//!   All three terms have non-increasing marginal gains (facility location is submodular, `Div`
//!   is minus a sum of non-negative pair terms, `Align` is modular), so a stale gain is an upper
//!   bound and the lazy greedy (priority queue, re-evaluate the top until it is fresh) picks
//!   exactly what the naive greedy `argmax_{c ∉ S} F(S ∪ {c}) − F(S)` picks, ties to the lowest
//!   position. The only approximation is `Cov` on the subsample `C` instead of the whole pool: for
//!   any fixed `S` it is an unbiased estimate of the pool coverage. Memory `O(n Σd + |C| Σd)`
//!   plus at most 256 bytes per row of cached coverage points, no `n x n` matrix; time `O(n |C| Σd)` for the first gains plus `O((|C| + |S|) Σd)` per lazy
//!   re-evaluation.
//! - `random`: a seeded shuffle, first `budget`.
//! - `kmeans`: Lloyd k-means (k-means++ init) with `k = budget` on the joint embedding, then the
//!   member nearest each centroid ([`kmeans_select`](crate::kernels::kmeans_select)).
//! - `typiclust` (Hacohen et al. 2022): k-means with `min(budget, typiclust_max_clusters)`
//!   clusters; visit clusters by fewest picks, then largest size (clusters of at most
//!   `typiclust_min_cluster_size` members last); pick the member of highest typicality
//!   `1 / (mean squared distance to its K nearest unselected cluster mates + 1e-5)`,
//!   `K = min(typiclust_neighbors, members / 2)`.
//! - `probcover` (Yehuda et al. 2022): greedy maximum coverage of δ-balls
//!   (`||e(i) − e(p)|| < delta`) over the same coverage subsample `C`, candidates all pool rows,
//!   lazy greedy on the count of newly covered points; once `C` is fully covered, the rest is
//!   drawn uniformly from the unselected rows.

mod embed;
mod mmcsal;
mod probcover;
mod typiclust;

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::kernels::kmeans_select;
use crate::ActiveError;
use embed::Joint;
use polymodal_core::seed::Rng;

pub use mmcsal::{mmcsal_terms, MmcsalTerms};

/// Every cold-start strategy, by its config / CLI name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColdStartKind {
    Mmcsal,
    Random,
    Kmeans,
    Typiclust,
    Probcover,
}

impl ColdStartKind {
    pub const ALL: [ColdStartKind; 5] = [
        Self::Mmcsal,
        Self::Random,
        Self::Kmeans,
        Self::Typiclust,
        Self::Probcover,
    ];

    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mmcsal => "mmcsal",
            Self::Random => "random",
            Self::Kmeans => "kmeans",
            Self::Typiclust => "typiclust",
            Self::Probcover => "probcover",
        }
    }
}

impl std::fmt::Display for ColdStartKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ColdStartKind {
    type Err = ActiveError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| ActiveError::UnknownStrategy {
                name: s.to_string(),
                expected: Self::ALL.map(Self::name).join(", "),
            })
    }
}

/// The pairwise similarity `k(i, j)` of MMCSAL's coverage and diversity terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Similarity {
    /// `max(0, cos)`: the cosine of the joint embeddings, clipped so facility location stays
    /// non-negative.
    Cosine,
    /// `exp((cos − 1) / temperature)`: in `(0, 1]`, more local as the temperature falls.
    Exp,
}

/// Cold-start parameters; every field has a default, unknown keys are rejected. Strategies
/// ignore the fields they do not use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ColdStartParams {
    /// Weight of the coverage term (MMCSAL, default 1; 0 leaves diversity and alignment alone,
    /// for the "each term alone" ablation).
    pub coverage_weight: f64,
    /// γ, weight of the diversity term (MMCSAL, default 1).
    pub gamma: f64,
    /// λ_align, weight of the cross-modal alignment term (MMCSAL, default 1).
    pub lambda_align: f64,
    /// Similarity of the coverage and diversity terms (MMCSAL, default `cosine`).
    pub similarity: Similarity,
    /// Temperature of `similarity = "exp"` (default 0.1).
    pub temperature: f64,
    /// Size of the seeded coverage subsample `C` (MMCSAL and ProbCover, default 2000).
    pub coverage_points: usize,
    /// Lloyd iterations (k-means and TypiClust, default 20).
    pub kmeans_iters: usize,
    /// Neighbours of the typicality (TypiClust, default 20 as in the paper).
    pub typiclust_neighbors: usize,
    /// Clusters of at most this size are visited last (TypiClust, default 5 as in its code).
    pub typiclust_min_cluster_size: usize,
    /// Cap on the number of clusters (TypiClust, default 500 as in its code).
    pub typiclust_max_clusters: usize,
    /// Typicality of a cluster larger than this is measured against a seeded subsample of this
    /// many of its members, so the cost stays `O(size · cap · Σd)` (TypiClust, default 5000).
    pub typiclust_max_reference: usize,
    /// Ball radius δ in the joint embedding (Euclidean, in `(0, 2]` for unit rows; ProbCover,
    /// default 0.75, the paper's CIFAR-10 value; choose it per dataset).
    pub delta: f64,
}

impl Default for ColdStartParams {
    fn default() -> Self {
        Self {
            coverage_weight: 1.0,
            gamma: 1.0,
            lambda_align: 1.0,
            similarity: Similarity::Cosine,
            temperature: 0.1,
            coverage_points: 2000,
            kmeans_iters: 20,
            typiclust_neighbors: 20,
            typiclust_min_cluster_size: 5,
            typiclust_max_clusters: 500,
            typiclust_max_reference: 5000,
            delta: 0.75,
        }
    }
}

fn invalid(name: &'static str, value: impl ToString, reason: &'static str) -> ActiveError {
    ActiveError::InvalidParam {
        name,
        value: value.to_string(),
        reason,
    }
}

impl ColdStartParams {
    /// Rejects values no strategy can run with.
    pub fn check(&self) -> Result<(), ActiveError> {
        for (name, v) in [
            ("coverage_weight", self.coverage_weight),
            ("gamma", self.gamma),
            ("lambda_align", self.lambda_align),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid(name, v, "must be finite and >= 0"));
            }
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(invalid(
                "temperature",
                self.temperature,
                "must be finite and > 0",
            ));
        }
        if !(self.delta.is_finite() && self.delta > 0.0) {
            return Err(invalid("delta", self.delta, "must be finite and > 0"));
        }
        for (name, v) in [
            ("coverage_points", self.coverage_points),
            ("typiclust_neighbors", self.typiclust_neighbors),
            ("typiclust_max_clusters", self.typiclust_max_clusters),
            ("typiclust_max_reference", self.typiclust_max_reference),
        ] {
            if v == 0 {
                return Err(invalid(name, v, "must be at least 1"));
            }
        }
        Ok(())
    }
}

/// Diagnostics of one selection (zero for the strategies they do not apply to).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SelectionStats {
    /// Marginal-gain evaluations of the lazy greedy (MMCSAL, ProbCover), the first pass over all
    /// `n` candidates included. A naive greedy needs `Σ_{t < budget} (n − t)`.
    pub gain_evaluations: usize,
    /// Of those, MMCSAL re-evaluations served from a candidate's cached active coverage points
    /// (no dot products).
    pub cached_gain_evaluations: usize,
    /// Size of the coverage subsample `C` actually used (MMCSAL, ProbCover).
    pub coverage_points: usize,
}

/// A cold-start strategy with checked parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ColdStart {
    kind: ColdStartKind,
    params: ColdStartParams,
}

impl ColdStart {
    /// Checks `params` once; [`select`](Self::select) then only validates its inputs.
    pub fn new(kind: ColdStartKind, params: ColdStartParams) -> Result<Self, ActiveError> {
        params.check()?;
        Ok(Self { kind, params })
    }

    pub fn kind(&self) -> ColdStartKind {
        self.kind
    }

    pub fn params(&self) -> &ColdStartParams {
        &self.params
    }

    /// Selects `budget` distinct pool positions (`0..n`) in selection order from `embeddings`
    /// (`M x [n, d_m]`, one entry of `dims` per modality). `budget > n` is
    /// [`ActiveError::BudgetTooLarge`], `budget == 0` returns nothing, `budget == n` every
    /// position in order; a non-finite value is [`ActiveError::NonFinite`] naming
    /// `embeddings[m]`. The same rng state gives the same selection, whatever the thread count.
    pub fn select(
        &self,
        embeddings: &[Vec<f32>],
        dims: &[usize],
        budget: usize,
        rng: &mut Rng,
    ) -> Result<Vec<usize>, ActiveError> {
        Ok(self.select_with_stats(embeddings, dims, budget, rng)?.0)
    }

    /// [`select`](Self::select), with diagnostics of the greedy strategies.
    pub fn select_with_stats(
        &self,
        embeddings: &[Vec<f32>],
        dims: &[usize],
        budget: usize,
        rng: &mut Rng,
    ) -> Result<(Vec<usize>, SelectionStats), ActiveError> {
        let n = embed::check(embeddings, dims)?;
        crate::check::budget(budget, n)?;
        let needs_alignment = self.kind == ColdStartKind::Mmcsal && self.params.lambda_align > 0.0;
        if needs_alignment {
            embed::check_shared_space(dims)?;
        }
        if budget == 0 || budget == n {
            return Ok(((0..budget).collect(), SelectionStats::default()));
        }
        let none = SelectionStats::default();
        // built only by the strategies that read it: random needs no copy of the pool
        let joint = || Joint::new(embeddings, dims, n, needs_alignment);
        let p = &self.params;
        Ok(match self.kind {
            ColdStartKind::Mmcsal => mmcsal::select(&joint(), budget, p, rng),
            ColdStartKind::Random => {
                let mut ids: Vec<usize> = (0..n).collect();
                ids.shuffle(rng);
                ids.truncate(budget);
                (ids, none)
            }
            ColdStartKind::Kmeans => (
                kmeans_select(&joint().view(), budget, p.kmeans_iters, rng)?,
                none,
            ),
            ColdStartKind::Typiclust => (typiclust::select(&joint(), budget, p, rng)?, none),
            ColdStartKind::Probcover => probcover::select(&joint(), budget, p, rng),
        })
    }
}
