use serde::{Deserialize, Serialize};

/// A sample's stable identity: it survives reordering, splitting and re-import.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SampleId(pub String);

impl std::fmt::Display for SampleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which part of a dataset a sample belongs to. `Train` is the pool active learning labels from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Val,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Val, Split::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }
}

/// A split name that is not `train`, `val` or `test`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}`: expected train, val or test")]
pub struct UnknownSplit(pub String);

impl std::str::FromStr for Split {
    type Err = UnknownSplit;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Split::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| UnknownSplit(s.to_string()))
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod split_tests {
    use super::*;

    #[test]
    fn split_names_round_trip_and_others_are_refused() {
        for s in Split::ALL {
            assert_eq!(s.as_str().parse::<Split>(), Ok(s));
        }
        let e = "validation".parse::<Split>().unwrap_err();
        assert_eq!(e.to_string(), "`validation`: expected train, val or test");
    }
}
