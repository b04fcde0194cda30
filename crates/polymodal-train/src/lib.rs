//! polymodal-train
