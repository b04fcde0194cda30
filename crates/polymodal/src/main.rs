//! polymodal: data-efficient multimodal deep learning from the command line.
//!
//! This crate parses arguments, finds the files polymodal ships with, calls `polymodal-lab` and
//! prints; every experiment, loop and report lives in the library.

mod commands;
mod progress;

use anyhow::Result;
use clap::{Parser, Subcommand};
use polymodal_lab::compare::config::CompareConfig;
use polymodal_lab::config::RunConfig;
use polymodal_lab::data::Locations;
use polymodal_lab::simulate::config::SimConfig;
use progress::{BarObserver, Bars};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "polymodal",
    version,
    about = "Data-efficient multimodal deep learning"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Lab(commands::label::Command),
    /// Train a fused multimodal classifier; writes a run directory.
    Train {
        /// TOML config (see configs/avdigits.toml for every key and its default). Optional with
        /// --dataset: defaults suited to the data are used and recorded in the run.
        #[arg(long, required_unless_present = "dataset")]
        config: Option<PathBuf>,
        /// An imported dataset directory (`polymodal data import`) instead of AV-Digits.
        #[arg(long)]
        dataset: Option<PathBuf>,
        /// New run directory (must not exist or be empty).
        #[arg(long)]
        out: PathBuf,
        /// Override a config key, e.g. --set train.epochs=5 --set model.fusion=gated.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Active-learning simulation: strategies x seeds x rounds with hidden labels. Rerun the
    /// same command to resume an interrupted simulation.
    Simulate {
        /// TOML config (see configs/al-avdigits.toml).
        #[arg(long)]
        config: PathBuf,
        /// An imported dataset directory instead of AV-Digits.
        #[arg(long)]
        dataset: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Fusion comparison: train every fusion with and without OGM-GE over several seeds and
    /// write one table. Rerun the same command to resume.
    Compare {
        /// TOML config (see configs/fusion-compare.toml).
        #[arg(long)]
        config: PathBuf,
        /// An imported dataset directory instead of AV-Digits.
        #[arg(long)]
        dataset: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Laziness gap per modality: accuracy alone − accuracy of its probe (or head) in the
    /// fused model; trains the fused model and one model per modality, for each seed.
    Laziness(commands::laziness::Args),
    /// Reload a run's checkpoint, recompute its test metrics and modality diagnostics
    /// (per-modality accuracy, mean Shapley contribution, accuracy without each modality).
    Eval {
        #[arg(long)]
        run: PathBuf,
        /// Print JSON: `test` (as in metrics.json), `diagnostics`, and `robustness` if asked for.
        #[arg(long)]
        json: bool,
        /// Also report accuracy with this modality removed (zeroed at the fusion input, as a
        /// missing modality is). Repeatable.
        #[arg(long, value_name = "MODALITY")]
        drop: Vec<String>,
        /// Also report accuracy with Gaussian noise added to a modality's input: `audio=0dB`
        /// (SNR relative to each sample's mean-square input) or `image=0.5` (standard deviation).
        /// Repeatable; combines with --drop.
        #[arg(long, value_name = "MODALITY=SNR_DB|STD")]
        noise: Vec<polymodal_lab::eval::NoiseSpec>,
        /// Seed of the --noise draws.
        #[arg(long, default_value_t = 0)]
        noise_seed: u64,
        /// Where the run's imported dataset is now, if it moved.
        #[arg(long)]
        dataset: Option<PathBuf>,
    },
    /// Cache all-MiniLM-L6-v2 sentence vectors for a text modality of an imported dataset.
    Embed {
        #[arg(long)]
        dataset: PathBuf,
        /// The text modality to embed.
        #[arg(long)]
        modality: String,
        /// Folder with model.safetensors and tokenizer.json (default: the schema's text_model,
        /// else .cache/models/all-MiniLM-L6-v2 as written by scripts/minilm/fetch.sh).
        #[arg(long)]
        text_model: Option<PathBuf>,
        #[arg(long, default_value_t = 32)]
        batch: usize,
    },
    /// Bring your own data: import a manifest, inspect a dataset, write an example folder.
    Data {
        #[command(subcommand)]
        what: DataCommand,
    },
    /// The main job on the built-in AV-Digits data: train the default model, write a report.
    Demo {
        /// Output directory (default: runs/demo-<unix time>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override a key of the built-in default training config.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Only train the fused model; skip the quick active-learning simulation.
        #[arg(long)]
        no_simulation: bool,
    },
    /// Select the next samples to label from arrays exported by a model trained elsewhere
    /// (PyTorch, JAX): ids, fused probabilities, per-modality features (docs/SELECT_ARRAYS.md).
    Select(commands::select::SelectArgs),
    /// Small vision-language model and object hallucination (docs/HALLUCINATION.md).
    Vl {
        #[command(subcommand)]
        what: commands::vl::VlCommand,
    },
    /// Self-supervised pretraining on the unlabelled pool (cross-modal InfoNCE + prototypes);
    /// writes encoders and cached embeddings (docs/COLD_START.md).
    Pretrain(commands::pretrain::Args),
    /// Cross-modal retrieval (R@1/5/10, median rank) and nearest neighbours on a pretraining
    /// run's embeddings.
    Retrieve(commands::retrieve::Args),
    /// The first batch to label from zero labels (MMCSAL or a baseline) on a pretraining run's
    /// embeddings.
    Coldstart(commands::coldstart::Args),
    /// Benchmarks of the hot paths (JSON on stdout).
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
}

#[derive(Subcommand)]
enum DataCommand {
    /// Import a CSV or JSONL manifest of image, audio, text and feature files into a dataset
    /// directory every command accepts as --dataset.
    Import {
        #[arg(long)]
        manifest: PathBuf,
        /// New dataset directory (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// TOML schema: columns, modality kinds and preprocessing (default: inferred).
        #[arg(long)]
        schema: Option<PathBuf>,
        /// Skip bad rows (listed in the data card) instead of failing the import.
        #[arg(long)]
        skip_bad: bool,
    },
    /// Print a dataset's data card.
    Inspect {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Write a small example folder (PNG, WAV, captions, manifest.csv) to try the import on.
    Example {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 40)]
        per_class: usize,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Selection time, peak memory and k-means++ bandwidth of one strategy on a synthetic pool.
    Selection {
        #[arg(long, default_value = "bmmal")]
        strategy: String,
        #[arg(long, default_value_t = 100_000)]
        pool: usize,
        #[arg(long, default_value_t = 101)]
        classes: usize,
        /// Feature width of each modality, comma separated.
        #[arg(long, default_value = "768,2048")]
        dims: String,
        #[arg(long, default_value_t = 1000)]
        budget: usize,
        /// Labelled samples (the initial centres of core-set).
        #[arg(long, default_value_t = 1000)]
        labelled: usize,
        #[arg(long, default_value_t = 1000)]
        seed: u64,
    },
    /// Training and inference throughput of the default fused model (AV-Digits shapes).
    Train {
        #[arg(long, default_value_t = 64)]
        batch: usize,
        #[arg(long, default_value_t = 5)]
        runs: usize,
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
}

fn main() {
    // Issue 11: keep freed tensor memory in the process (see the function's doc).
    polymodal_nn::backend::configure_allocator();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// Where the built-in data (`data/avdigits`) and the MiniLM cache (`.cache/models`) are looked
/// for: the current directory, `$POLYMODAL_HOME`, and the folders above the executable (a binary
/// in `target/release` of a checkout finds the checkout). Never the folder it was compiled in: a
/// copied or installed binary behaves the same on every machine.
fn locations() -> Locations {
    let mut roots = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    if let Some(home) = std::env::var_os("POLYMODAL_HOME") {
        roots.push(PathBuf::from(home));
    }
    if let Some(exe) = std::env::current_exe()
        .ok()
        .and_then(|e| e.canonicalize().ok())
    {
        roots.extend(exe.ancestors().skip(1).take(3).map(Path::to_path_buf));
    }
    let mut seen = std::collections::HashSet::new();
    roots.retain(|r| seen.insert(r.clone()));
    Locations {
        roots,
        hint: "set POLYMODAL_HOME to a polymodal checkout (the folder holding data/avdigits), or pass --set data.path=DIR".into(),
    }
}

fn run(cli: Cli) -> Result<()> {
    let at = locations();
    match cli.command {
        Command::Lab(cmd) => commands::label::run(cmd, &at)?,
        Command::Train {
            config,
            dataset,
            out,
            overrides,
        } => {
            let (mut cfg, origin) = match &config {
                Some(path) => (
                    RunConfig::load(path, &overrides)?,
                    path.display().to_string(),
                ),
                None => (
                    RunConfig::parse("", "built-in defaults", &overrides)?,
                    "built-in defaults".to_string(),
                ),
            };
            if dataset.is_some() {
                cfg.dataset.path = dataset;
            }
            let cfg = cfg.check(&origin)?;
            polymodal_lab::train::run(cfg, &out, &at, &mut BarObserver::new())?;
        }
        Command::Simulate {
            config,
            dataset,
            out,
            overrides,
        } => {
            let mut cfg = SimConfig::load(&config, &overrides)?;
            if dataset.is_some() {
                cfg.base.dataset.path = dataset;
            }
            let cfg = cfg.check(&config.display().to_string())?;
            let summary = polymodal_lab::simulate::run(cfg, &out, &at, &Bars::new())?;
            commands::print::aubc(&summary);
            println!("report: {}", out.join("report.md").display());
        }
        Command::Compare {
            config,
            dataset,
            out,
            overrides,
        } => {
            let mut cfg = CompareConfig::load(&config, &overrides)?;
            if dataset.is_some() {
                cfg.base.dataset.path = dataset;
            }
            let cfg = cfg.check(&config.display().to_string())?;
            polymodal_lab::compare::run(cfg, &out, &at, &Bars::new())?;
            let table = out.join(polymodal_lab::compare::TABLE_MD);
            print!("{}", std::fs::read_to_string(&table)?);
            println!("table: {}", table.display());
        }
        Command::Laziness(args) => commands::laziness::run(args, &at)?,
        Command::Embed {
            dataset,
            modality,
            text_model,
            batch,
        } => {
            let o = polymodal_lab::embed::run(
                &dataset,
                &modality,
                text_model.as_deref(),
                batch,
                &at,
                &Bars::new(),
            )?;
            println!(
                "embedded {} texts of `{modality}` in {:.1}s ({:.0} texts/s) → {}",
                o.texts,
                o.seconds,
                o.texts as f64 / o.seconds.max(1e-9),
                o.path.display()
            );
            println!(
                "training on {} now uses these vectors (dataset.text_features = \"tokens\" to opt out)",
                dataset.display()
            );
        }
        Command::Data { what } => match what {
            DataCommand::Import {
                manifest,
                out,
                schema,
                skip_bad,
            } => commands::data::import(&manifest, &out, schema.as_deref(), skip_bad)?,
            DataCommand::Inspect { dir, json } => commands::data::inspect(&dir, json)?,
            DataCommand::Example { out, per_class } => commands::data::example(&out, per_class)?,
        },
        Command::Eval {
            run,
            json,
            drop,
            noise,
            noise_seed,
            dataset,
        } => {
            let corruption = polymodal_lab::eval::Corruption {
                drop,
                noise,
                seed: noise_seed,
            };
            let outcome = polymodal_lab::eval::run(&run, &corruption, dataset.as_deref(), &at)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "test": outcome.test,
                        "diagnostics": outcome.diagnostics,
                        "robustness": outcome.robustness,
                    }))?
                );
            } else {
                commands::print::eval(&outcome);
            }
            if !outcome.matches_training {
                anyhow::bail!(
                    "{}: recomputed test metrics differ from metrics.json written at training time",
                    run.display()
                );
            }
        }
        Command::Demo {
            out,
            overrides,
            no_simulation,
        } => {
            let out = out.unwrap_or_else(|| {
                PathBuf::from(format!("runs/demo-{}", polymodal_core::run::unix_now()))
            });
            let o = polymodal_lab::demo::run(
                &out,
                &overrides,
                no_simulation,
                &at,
                &mut BarObserver::new(),
                &Bars::new(),
            )?;
            commands::print::demo(&o);
        }
        Command::Select(args) => commands::select::run(args)?,
        Command::Bench { what } => {
            let json = match what {
                BenchCommand::Selection {
                    strategy,
                    pool,
                    classes,
                    dims,
                    budget,
                    labelled,
                    seed,
                } => {
                    let kind = strategy
                        .parse()
                        .map_err(|e| anyhow::anyhow!("--strategy: {e}"))?;
                    let dims: Vec<usize> = dims
                        .split(',')
                        .map(|d| d.trim().parse::<usize>())
                        .collect::<Result<_, _>>()
                        .map_err(|e| anyhow::anyhow!("--dims {dims}: {e}"))?;
                    polymodal_lab::bench::selection(
                        kind, pool, classes, &dims, budget, labelled, seed,
                    )?
                }
                BenchCommand::Train {
                    batch,
                    runs,
                    seconds,
                } => polymodal_lab::bench::train(batch, runs, seconds)?,
            };
            println!("{}", serde_json::to_string(&json)?);
        }
        Command::Vl { what } => commands::vl::run(what, &at)?,
        Command::Pretrain(args) => commands::pretrain::run(args, &at)?,
        Command::Retrieve(args) => commands::retrieve::run(args)?,
        Command::Coldstart(args) => commands::coldstart::run(args)?,
    }
    Ok(())
}
