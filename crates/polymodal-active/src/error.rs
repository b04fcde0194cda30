/// Errors raised while selecting samples. Every variant names the array or parameter at fault.
#[derive(Debug, thiserror::Error)]
pub enum ActiveError {
    #[error("budget {budget} is larger than the unlabelled pool of {pool} samples")]
    BudgetTooLarge { budget: usize, pool: usize },
    /// An array has the wrong length or a list of blocks the wrong count; `what` names it and its
    /// expected shape, e.g. `"fused_probs [n=50, C=10]"`.
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    Shape {
        what: String,
        expected: usize,
        got: usize,
    },
    /// The selection context cannot provide an input the strategy needs.
    #[error("the selection context has no {what} (needed by this strategy)")]
    Missing { what: &'static str },
    #[error("dataset index {index} appears more than once in the pool")]
    DuplicatePoolIndex { index: usize },
    #[error("non-finite value in {what} at pool position {position}")]
    NonFinite { what: &'static str, position: usize },
    #[error("{modalities} modalities: {what} supports at most {max} (cost grows as 2^M)")]
    TooManyModalities {
        what: &'static str,
        modalities: usize,
        max: usize,
    },
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParam {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("unknown strategy {name:?}; expected one of: {expected}")]
    UnknownStrategy { name: String, expected: String },
    /// A trainer-side context failed to run the model.
    #[error("model evaluation for {what} failed: {source}")]
    Model {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ActiveError {
    /// Shape mismatch of `what` (its description should include the expected shape).
    pub fn shape(what: impl Into<String>, expected: usize, got: usize) -> Self {
        Self::Shape {
            what: what.into(),
            expected,
            got,
        }
    }

    /// Wraps a model failure of a trainer-side [`SelectionContext`](crate::SelectionContext).
    pub fn model(
        what: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Model {
            what,
            source: source.into(),
        }
    }
}

impl From<polymodal_core::shapley::ShapleyError> for ActiveError {
    fn from(e: polymodal_core::shapley::ShapleyError) -> Self {
        use polymodal_core::shapley::ShapleyError as S;
        match e {
            S::Shape {
                what,
                expected,
                got,
            } => Self::Shape {
                what,
                expected,
                got,
            },
            S::TooManyModalities { modalities, max } => Self::TooManyModalities {
                what: "exact Shapley values",
                modalities,
                max,
            },
            S::Empty => Self::InvalidParam {
                name: "modalities",
                value: "0".into(),
                reason: "at least one modality and one class are needed",
            },
            S::ClassOutOfRange {
                class,
                sample,
                classes,
            } => Self::InvalidParam {
                name: "class_of_sample",
                value: format!("{class} at sample {sample} ({classes} classes)"),
                reason: "class index out of range",
            },
            S::RowOutOfRange { row, n } => Self::InvalidParam {
                name: "rows",
                value: format!("{row} of {n}"),
                reason: "row out of range for the contributions",
            },
        }
    }
}
