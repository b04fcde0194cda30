//! `polymodal bench`: throughput of the hot paths on synthetic inputs, as JSON.

use anyhow::Result;
use polymodal_core::{ModalityKind, ModalitySpec};
use polymodal_nn::ModelConfig;

pub fn train(batch: usize, runs: usize, seconds: f64) -> Result<()> {
    let specs = vec![
        ModalitySpec {
            name: "image".into(),
            kind: ModalityKind::Image,
            shape: vec![1, 28, 28],
        },
        ModalitySpec {
            name: "audio".into(),
            kind: ModalityKind::Audio,
            shape: vec![1, 32, 32],
        },
    ];
    let result = polymodal_train::bench::train_throughput(
        &ModelConfig::default(),
        &specs,
        10,
        batch,
        runs,
        seconds,
    )?;
    let mut json = serde_json::to_value(&result)?;
    json["framework"] = "polymodal (burn 0.22.1 flex)".into();
    println!("{}", serde_json::to_string(&json)?);
    Ok(())
}
