//! `polymodal coldstart`: the first batch to label, from a pretraining run's embeddings.

use anyhow::Result;
use polymodal_active::coldstart::ColdStartKind;
use polymodal_lab::coldstart::ColdStartConfig;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A `polymodal pretrain` run directory.
    #[arg(long)]
    pretrained: PathBuf,
    #[arg(long)]
    budget: usize,
    /// mmcsal | random | kmeans | typiclust | probcover
    #[arg(long, default_value = "mmcsal")]
    strategy: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// New run directory (must not exist or be empty).
    #[arg(long)]
    out: PathBuf,
    /// A strategy parameter, e.g. --set lambda_align=0.5 --set gamma=1 --set delta=0.6.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    let strategy: ColdStartKind = args
        .strategy
        .parse()
        .map_err(|e| anyhow::anyhow!("--strategy: {e}"))?;
    let config = ColdStartConfig {
        pretrained: args
            .pretrained
            .canonicalize()
            .map_err(|e| anyhow::anyhow!("--pretrained {}: {e}", args.pretrained.display()))?,
        strategy,
        budget: args.budget,
        seed: args.seed,
        params: polymodal_lab::coldstart::parse_params(&args.overrides)?,
    };
    let s = polymodal_lab::coldstart::run(&config, &args.out)?;
    println!(
        "{} selected {} of {} pool samples in {:.2}s: coverage {:.4}, diversity {:.4}, alignment {:.4}, objective {:.4}",
        s.strategy,
        s.budget,
        s.pool,
        s.seconds,
        s.coverage,
        s.diversity,
        s.alignment,
        s.objective
    );
    println!(
        "ids: {}",
        args.out
            .join(polymodal_lab::coldstart::SELECTED_CSV)
            .display()
    );
    Ok(())
}
