//! `polymodal laziness`: arguments in, the table out.

use crate::progress::Bars;
use anyhow::Result;
use polymodal_core::Split;
use polymodal_lab::config::RunConfig;
use polymodal_lab::data::Locations;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// TOML config of the fused model (its `train.heads` says which heads are measured;
    /// "probe" gives the laziness gap proper).
    #[arg(long)]
    config: PathBuf,
    /// An imported dataset directory instead of AV-Digits.
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// Split the accuracies are measured on.
    #[arg(long, value_parser = ["val", "test"], default_value = "val")]
    split: String,
    /// Training seeds (comma-separated); default: the config's seed.
    #[arg(long, value_delimiter = ',')]
    seeds: Vec<u64>,
    /// Cells trained at once.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Run directory (rerun the same command to resume).
    #[arg(long)]
    out: PathBuf,
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

pub fn run(args: Args, at: &Locations) -> Result<()> {
    let mut cfg = RunConfig::load(&args.config, &args.overrides)?;
    if args.dataset.is_some() {
        cfg.dataset.path = args.dataset;
    }
    let seeds = if args.seeds.is_empty() {
        vec![cfg.seed]
    } else {
        args.seeds
    };
    let heads = cfg.train.heads;
    let cfg = cfg.check(&args.config.display().to_string())?;
    let split = if args.split == "test" {
        Split::Test
    } else {
        Split::Val
    };
    let summary = polymodal_lab::laziness::run(
        cfg,
        &seeds,
        split,
        args.workers,
        &args.out,
        at,
        &Bars::new(),
    )?;
    print!("{}", polymodal_lab::laziness::table(&summary, heads));
    println!(
        "report: {}",
        args.out.join(polymodal_lab::laziness::REPORT_MD).display()
    );
    Ok(())
}
