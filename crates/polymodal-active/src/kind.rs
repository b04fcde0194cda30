use serde::{Deserialize, Serialize};

use crate::strategy::{
    Badge, Bald, Bmmal, Coreset, Entropy, Kmeans, LeastConfidence, Margin, Random, Strategy,
};
use crate::ActiveError;

/// Every selection strategy, by its config / CLI name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    Random,
    Entropy,
    Margin,
    LeastConfidence,
    Bald,
    Coreset,
    Kmeans,
    Badge,
    Bmmal,
}

impl StrategyKind {
    pub const ALL: [StrategyKind; 9] = [
        Self::Random,
        Self::Entropy,
        Self::Margin,
        Self::LeastConfidence,
        Self::Bald,
        Self::Coreset,
        Self::Kmeans,
        Self::Badge,
        Self::Bmmal,
    ];

    /// The snake_case name (`"least_confidence"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Random => "random",
            Self::Entropy => "entropy",
            Self::Margin => "margin",
            Self::LeastConfidence => "least_confidence",
            Self::Bald => "bald",
            Self::Coreset => "coreset",
            Self::Kmeans => "kmeans",
            Self::Badge => "badge",
            Self::Bmmal => "bmmal",
        }
    }

    /// The strategy with these parameters (those it does not use are ignored).
    pub fn build(&self, params: &StrategyParams) -> Box<dyn Strategy> {
        match self {
            Self::Random => Box::new(Random),
            Self::Entropy => Box::new(Entropy),
            Self::Margin => Box::new(Margin),
            Self::LeastConfidence => Box::new(LeastConfidence),
            Self::Bald => Box::new(Bald {
                passes: params.mc_passes,
            }),
            Self::Coreset => Box::new(Coreset),
            Self::Kmeans => Box::new(Kmeans {
                iters: params.kmeans_iters,
            }),
            Self::Badge => Box::new(Badge),
            Self::Bmmal => Box::new(Bmmal),
        }
    }
}

impl std::fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for StrategyKind {
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

/// Strategy parameters; every field has a default, unknown keys are rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StrategyParams {
    /// MC-dropout passes `T` for BALD (default 10, docs/METHODS.md §4.3).
    pub mc_passes: usize,
    /// Lloyd iterations for k-means (default 20).
    pub kmeans_iters: usize,
}

impl Default for StrategyParams {
    fn default() -> Self {
        Self {
            mc_passes: 10,
            kmeans_iters: 20,
        }
    }
}

impl StrategyParams {
    /// Largest `mc_passes`: each pass is a full forward over the pool, and the passes are
    /// held in memory (`T x n x C` floats).
    pub const MAX_MC_PASSES: usize = 1000;
    /// Largest `kmeans_iters` (Lloyd converges long before; more is a typo).
    pub const MAX_KMEANS_ITERS: usize = 10_000;

    /// Rejects values no strategy can run with, before any model is trained.
    pub fn check(&self) -> Result<(), ActiveError> {
        if !(1..=Self::MAX_MC_PASSES).contains(&self.mc_passes) {
            return Err(ActiveError::InvalidParam {
                name: "mc_passes",
                value: self.mc_passes.to_string(),
                reason: "BALD needs 1 to 1000 MC-dropout passes",
            });
        }
        if !(1..=Self::MAX_KMEANS_ITERS).contains(&self.kmeans_iters) {
            return Err(ActiveError::InvalidParam {
                name: "kmeans_iters",
                value: self.kmeans_iters.to_string(),
                reason: "k-means needs 1 to 10000 Lloyd iterations",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_fromstr_display_and_serde() {
        for k in StrategyKind::ALL {
            assert_eq!(k.to_string().parse::<StrategyKind>().unwrap(), k);
            assert_eq!(k.build(&StrategyParams::default()).name(), k.name());
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{k}\""));
            assert_eq!(serde_json::from_str::<StrategyKind>(&json).unwrap(), k);
        }
        let err = "kcenter".parse::<StrategyKind>().unwrap_err().to_string();
        assert!(
            err.contains("kcenter") && err.contains("least_confidence"),
            "{err}"
        );
    }

    #[test]
    fn params_default_and_deny_unknown_fields() {
        let p: StrategyParams = serde_json::from_str("{}").unwrap();
        assert_eq!(p, StrategyParams::default());
        let p: StrategyParams = serde_json::from_str(r#"{"mc_passes": 3}"#).unwrap();
        assert_eq!((p.mc_passes, p.kmeans_iters), (3, 20));
        assert!(serde_json::from_str::<StrategyParams>(r#"{"passes": 3}"#).is_err());
        assert!(StrategyParams {
            mc_passes: 0,
            ..Default::default()
        }
        .check()
        .is_err());
    }
}
