//! `polymodal pretrain`: self-supervised pretraining on the unlabelled pool.

use crate::progress::EpochBar;
use anyhow::Result;
use polymodal_lab::data::Locations;
use polymodal_lab::pretrain::PretrainRunConfig;
use polymodal_train::pretrain::{EpochLog, PretrainObserver};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// TOML config with a `[pretrain]` table (see configs/pretrain-avdigits.toml). Optional:
    /// without it the defaults are used on --dataset or on AV-Digits.
    #[arg(long)]
    config: Option<PathBuf>,
    /// An imported dataset directory instead of AV-Digits (labels, if any, are not read).
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// New run directory (must not exist or be empty).
    #[arg(long)]
    out: PathBuf,
    /// Override a config key, e.g. --set pretrain.beta=0 --set pretrain.epochs=5.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

/// One bar per epoch.
struct Bar(EpochBar);

impl PretrainObserver for Bar {
    fn on_epoch_start(&mut self, epoch: usize, epochs: usize, batches: usize) {
        self.0
            .start(format!("pretrain epoch {epoch}/{epochs}"), batches);
    }
    fn on_batch(&mut self, _epoch: usize, _batch: usize, loss: f32) {
        self.0.batch(loss);
    }
    fn on_epoch_end(&mut self, _log: &EpochLog) {
        self.0.finish();
    }
}

pub fn run(args: Args, at: &Locations) -> Result<()> {
    let (mut cfg, origin) = match &args.config {
        Some(p) => (
            PretrainRunConfig::load(p, &args.overrides)?,
            p.display().to_string(),
        ),
        None => (
            PretrainRunConfig::parse("", "built-in defaults", &args.overrides)?,
            "built-in defaults".to_string(),
        ),
    };
    if args.dataset.is_some() {
        cfg.base.dataset.path = args.dataset;
    }
    let cfg = cfg.check(&origin)?;
    let s = polymodal_lab::pretrain::run(cfg, &args.out, at, &mut Bar(EpochBar::default()))?;
    println!(
        "pretrained on {} pool samples ({}) in {:.0}s",
        s.pool_samples,
        s.modalities.join(", "),
        s.seconds
    );
    for (pair, gap) in &s.gap {
        println!("modality gap {pair}: {gap:.4}");
    }
    for (m, h) in &s.usage_entropy {
        println!("prototype usage entropy {m}: {h:.3} nats");
    }
    println!("report: {}", args.out.join("report.md").display());
    Ok(())
}
