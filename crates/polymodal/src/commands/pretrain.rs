//! `polymodal pretrain`: self-supervised pretraining on the unlabelled pool.

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
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
struct Bar(Option<ProgressBar>);

impl PretrainObserver for Bar {
    fn on_epoch_start(&mut self, epoch: usize, epochs: usize, batches: usize) {
        let bar = ProgressBar::new(batches as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} batches {msg} ({eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("pretrain epoch {epoch}/{epochs}"));
        self.0 = Some(bar);
    }
    fn on_batch(&mut self, _epoch: usize, _batch: usize, loss: f32) {
        if let Some(bar) = &self.0 {
            bar.set_message(format!("loss {loss:.3}"));
            bar.inc(1);
        }
    }
    fn on_epoch_end(&mut self, _log: &EpochLog) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
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
    let s = polymodal_lab::pretrain::run(cfg, &args.out, at, &mut Bar(None))?;
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
