//! polymodal: data-efficient multimodal deep learning from the command line.

mod commands;
mod compare;
mod config;
mod diagnostics;
mod progress;
mod report;
mod rundir;
mod simulate;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

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
        #[arg(long)]
        out: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
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
        noise: Vec<commands::eval::NoiseSpec>,
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
    /// Small vision-language model and object hallucination (docs/HALLUCINATION.md).
    Vl {
        #[command(subcommand)]
        what: commands::vl::VlCommand,
    },
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

fn print_aubc(summary: &simulate::outputs::Summary) {
    println!("area under the budget curve (fused test accuracy), mean ± std over seeds:");
    for ((name, mean, std, seeds), (_, finals)) in
        summary.aubc.iter().zip(&summary.final_modality_accuracy)
    {
        let finals: Vec<String> = finals.iter().map(|a| format!("{a:.4}")).collect();
        println!(
            "  {name:<16} {mean:.4} ± {std:.4} ({seeds} seeds; final per-modality accuracy {})",
            finals.join(" / ")
        );
    }
}

fn print_eval(outcome: &commands::eval::EvalOutcome) {
    let t = &outcome.test;
    println!("test accuracy (fused) {:.4}", t.fused.accuracy);
    println!(
        "macro-F1 {:.4}, ECE {:.4}, n = {}",
        t.fused.macro_f1, t.fused.ece, t.fused.n
    );
    println!("modality    alone   contribution  Shapley  fused without it");
    for (name, m) in &t.per_modality {
        let d = outcome.diagnostics.as_ref();
        let get = |f: fn(
            &diagnostics::ModalityDiagnostics,
        ) -> &std::collections::BTreeMap<String, f64>| {
            d.and_then(|d| f(d).get(name).copied()).unwrap_or(f64::NAN)
        };
        println!(
            "{name:<10} {:.4}  {:>12.4}  {:>+7.4}  {:.4}",
            m.accuracy,
            get(|d| &d.contribution),
            get(|d| &d.shapley),
            get(|d| &d.accuracy_without)
        );
    }
    if let Some(r) = &outcome.robustness {
        let mut what: Vec<String> = r
            .corruption
            .drop
            .iter()
            .map(|m| format!("{m} dropped"))
            .collect();
        what.extend(r.corruption.noise.iter().map(|n| match n.level {
            commands::eval::NoiseLevel::SnrDb(db) => {
                format!("{} noised at {db} dB SNR", n.modality)
            }
            commands::eval::NoiseLevel::Std(s) => format!("{} noised with std {s}", n.modality),
        }));
        println!(
            "with {}: test accuracy (fused) {:.4} ({:+.4})",
            what.join(", "),
            r.test.fused.accuracy,
            r.test.fused.accuracy - t.fused.accuracy
        );
        for (name, m) in &r.test.per_modality {
            println!("  {name} only {:.4}", m.accuracy);
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train {
            config,
            dataset,
            out,
            overrides,
        } => {
            let mut cfg = match &config {
                Some(path) => config::load(path, &overrides)?,
                None => config::parse("", "built-in defaults", &overrides)?,
            };
            if dataset.is_some() {
                cfg.dataset.path = dataset;
            }
            commands::train::run(cfg, &out)?;
        }
        Command::Simulate {
            config,
            dataset,
            out,
            overrides,
        } => {
            let mut cfg = simulate::config::load(&config, &overrides)?;
            if dataset.is_some() {
                cfg.dataset.path = dataset;
            }
            let summary = simulate::run(cfg, &out)?;
            print_aubc(&summary);
            println!("report: {}", out.join("report.md").display());
        }
        Command::Embed {
            dataset,
            modality,
            text_model,
            batch,
        } => commands::embed::run(&dataset, &modality, text_model.as_deref(), batch)?,
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
        Command::Compare {
            config,
            out,
            overrides,
        } => {
            let cfg = compare::config::load(&config, &overrides)?;
            compare::run(cfg, &out)?;
            print!("{}", std::fs::read_to_string(out.join(compare::TABLE_MD))?);
            println!("table: {}", out.join(compare::TABLE_MD).display());
        }
        Command::Eval {
            run,
            json,
            drop,
            noise,
            noise_seed,
            dataset,
        } => {
            let corruption = commands::eval::Corruption {
                drop,
                noise,
                seed: noise_seed,
            };
            let outcome = commands::eval::run(&run, &corruption, dataset.as_deref())?;
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
                print_eval(&outcome);
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
            let out = out.unwrap_or_else(commands::demo::default_out);
            commands::demo::run(&out, &overrides, no_simulation)?;
        }
        Command::Vl { what } => commands::vl::run(what)?,
        Command::Bench { what } => match what {
            BenchCommand::Selection {
                strategy,
                pool,
                classes,
                dims,
                budget,
                labelled,
                seed,
            } => {
                commands::bench::selection(&strategy, pool, classes, &dims, budget, labelled, seed)?
            }
            BenchCommand::Train {
                batch,
                runs,
                seconds,
            } => commands::bench::train(batch, runs, seconds)?,
        },
    }
    Ok(())
}
