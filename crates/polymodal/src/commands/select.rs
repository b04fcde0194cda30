//! `polymodal select --arrays FILE`: selection for models trained elsewhere (docs/SELECT_ARRAYS.md).

use std::path::PathBuf;

use anyhow::{Context, Result};
use polymodal_active::{StrategyKind, StrategyParams};
use polymodal_lab::arrays::{load_arrays, select, selection_json, write_csv, LabelledIds};

/// Select the next samples to label from arrays exported by another framework (safetensors or
/// .npz: ids, probs, feat_<modality>, optionally subset_probs and mc_probs).
#[derive(clap::Args, Debug)]
pub struct SelectArgs {
    /// safetensors or .npz file with ids [N], probs [N, C], feat_<modality> [N, d], and
    /// optionally subset_probs [2^M, N, C] (bmmal) and mc_probs [T, N, C] (bald).
    #[arg(long, value_name = "FILE")]
    pub arrays: PathBuf,
    /// random, entropy, margin, least_confidence, bald, coreset, kmeans, badge or bmmal.
    #[arg(long)]
    pub strategy: StrategyKind,
    /// Number of ids to select.
    #[arg(long)]
    pub budget: usize,
    /// Already-labelled ids (one per line, or a CSV with an `id` column): excluded from the
    /// pool, and the initial centres of coreset. They must be among the file's ids.
    #[arg(long, value_name = "IDS")]
    pub labelled: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the selection as CSV (`rank,id`) here; without --out and --json it goes to stdout.
    #[arg(long, value_name = "FILE.csv")]
    pub out: Option<PathBuf>,
    /// Print the selection as JSON on stdout: {"strategy", "budget", "seed", "ids"}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: SelectArgs) -> Result<()> {
    let arrays = load_arrays(&args.arrays)?;
    let labelled = match &args.labelled {
        Some(path) => LabelledIds::read(path)?,
        None => LabelledIds::none(),
    };
    let ids = select(
        &arrays,
        args.strategy,
        &StrategyParams::default(),
        args.budget,
        &labelled,
        args.seed,
    )?;
    if let Some(out) = &args.out {
        let file = std::fs::File::create(out)
            .with_context(|| format!("cannot create {}", out.display()))?;
        write_csv(file, &ids, out)?;
    }
    if args.json {
        let json = selection_json(&arrays, args.strategy, args.seed, &ids);
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else if args.out.is_none() {
        write_csv(std::io::stdout().lock(), &ids, "<stdout>")?;
    }
    Ok(())
}
