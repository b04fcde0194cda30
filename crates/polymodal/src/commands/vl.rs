//! `polymodal vl …`: parses arguments, calls `polymodal_vl::run`, prints.

use anyhow::{Context, Result};
use polymodal_vl::model::Decoding;
use polymodal_vl::run;
use polymodal_vl::scenes::SceneSplit;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum VlCommand {
    /// Compose scenes (1–4 objects on a grid, planted co-occurrence bias, in-distribution and
    /// bias-breaking splits) from AV-Digits or an imported image dataset.
    BuildScenes {
        #[arg(long)]
        out: PathBuf,
        /// Scene config TOML (see configs/vl-scenes.toml); defaults if omitted.
        #[arg(long)]
        config: Option<PathBuf>,
        /// An imported dataset directory with a single-channel image modality and class labels.
        #[arg(long)]
        dataset: Option<PathBuf>,
    },
    /// Train a captioner (configs/vl-prefix.toml, configs/vl-cross.toml); writes a run directory.
    Train {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Override a key, e.g. --set train.seed=2 --set variant.kind=vd_discrete.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Describe scenes of a split with a trained run.
    Caption {
        #[arg(long)]
        run: PathBuf,
        #[arg(long, default_value = "test_bias")]
        split: String,
        #[arg(long, default_value_t = 10)]
        n: usize,
        /// Sample among the k most probable words (default: greedy).
        #[arg(long)]
        top_k: Option<usize>,
        #[arg(long, default_value_t = 1.0)]
        temperature: f32,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// CHAIR and POPE on the validation and test splits; writes eval.json, report.md,
    /// examples.png into the run.
    Eval {
        #[arg(long)]
        run: PathBuf,
        /// Comma-separated splits.
        #[arg(long, default_value = "val_bias,test,test_bias")]
        splits: String,
        /// At most this many scenes per split (0 = all).
        #[arg(long, default_value_t = 0)]
        max_scenes: usize,
        /// POPE probes per scene and answer (yes and no each).
        #[arg(long, default_value_t = 2)]
        probes: usize,
    },
    /// Visual-dependence classes per word kind, with examples.
    VdStats {
        #[arg(long)]
        run: PathBuf,
        #[arg(long, default_value = "val")]
        split: String,
        #[arg(long, default_value_t = 600)]
        n: usize,
        /// Fixed threshold δ in nats (default: the --percentile of |VD|).
        #[arg(long)]
        delta: Option<f32>,
        #[arg(long, default_value_t = 0.5)]
        percentile: f64,
        #[arg(long)]
        json: bool,
    },
    /// Training and generation throughput of the decoder on random data (JSON); compare with
    /// bench/vl_decoder_bench.py.
    Bench {
        #[arg(long, default_value = "prefix")]
        conditioning: String,
        #[arg(long, default_value_t = 32)]
        batch: usize,
        #[arg(long, default_value_t = 5)]
        runs: usize,
        #[arg(long, default_value_t = 10)]
        steps: usize,
    },
}

pub fn run(cmd: VlCommand, at: &polymodal_lab::data::Locations) -> Result<()> {
    match cmd {
        VlCommand::BuildScenes {
            out,
            config,
            dataset,
        } => {
            let cfg = match &config {
                Some(p) => {
                    let text = std::fs::read_to_string(p)
                        .with_context(|| format!("{}: cannot read", p.display()))?;
                    run::parse_scene_config(&text, &p.display().to_string())?
                }
                None => Default::default(),
            };
            let (data, source) = match dataset {
                Some(dir) => (
                    polymodal_data::store::load(&dir, &Default::default())?,
                    dir.display().to_string(),
                ),
                None => {
                    let mut av = polymodal_data::AvDigitsConfig::default();
                    polymodal_lab::data::resolve_avdigits_path(&mut av, at)?;
                    (av.load()?, "avdigits".to_string())
                }
            };
            let set = run::build_scenes(&data, &source, cfg, &out)?;
            println!(
                "{} scenes ({}x{} px) from {source} written to {}",
                set.scenes.len(),
                set.side,
                set.side,
                out.display()
            );
        }
        VlCommand::Train {
            config,
            out,
            overrides,
        } => {
            let text = std::fs::read_to_string(&config)
                .with_context(|| format!("{}: cannot read", config.display()))?;
            let cfg = run::parse_run_config(&text, &config.display().to_string(), &overrides)?;
            let s = run::train_run(&cfg, &out, |e| {
                println!(
                    "epoch {:>2}  loss {:.4}  val loss {:.4}  {:.0}s  {:.0} tokens/s",
                    e.epoch, e.loss, e.val_loss, e.seconds, e.tokens_per_second
                )
            })?;
            println!(
                "{} {} seed {}: {} samples ({} dropped), {} parameters, {:.0}s; run in {}",
                s.conditioning,
                s.variant,
                s.seed,
                s.samples,
                s.dropped,
                s.params,
                s.seconds,
                out.display()
            );
        }
        VlCommand::Caption {
            run: dir,
            split,
            n,
            top_k,
            temperature,
            seed,
        } => {
            let loaded = run::load_run(&dir)?;
            let decoding = match top_k {
                Some(k) => Decoding::TopK {
                    k,
                    temperature,
                    seed,
                },
                None => Decoding::Greedy,
            };
            for c in run::caption(&loaded, SceneSplit::parse(&split)?, n, &decoding)? {
                let words: Vec<String> = c
                    .words
                    .iter()
                    .map(|w| {
                        if c.hallucinated.contains(w) {
                            format!("*{w}*")
                        } else {
                            w.clone()
                        }
                    })
                    .collect();
                println!(
                    "scene {:>5} [{}]: {}",
                    c.scene,
                    c.truth.join(" "),
                    words.join(" ")
                );
            }
        }
        VlCommand::Eval {
            run: dir,
            splits,
            max_scenes,
            probes,
        } => {
            let splits = splits
                .split(',')
                .map(|s| SceneSplit::parse(s.trim()))
                .collect::<Result<Vec<_>, _>>()?;
            let loaded = run::load_run(&dir)?;
            let (report, examples) = run::evaluate(&loaded, &dir, &splits, max_scenes, probes)?;
            run::write_eval(&dir, &report, &examples, &loaded.scenes)?;
            println!("{}", run::chair_table(std::slice::from_ref(&report)));
            println!("{}", run::pope_table(std::slice::from_ref(&report)));
            println!("report: {}", dir.join(run::REPORT_FILE).display());
        }
        VlCommand::VdStats {
            run: dir,
            split,
            n,
            delta,
            percentile,
            json,
        } => {
            let loaded = run::load_run(&dir)?;
            let r = run::vd_stats(&loaded, SceneSplit::parse(&split)?, n, delta, percentile)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!("{}", run::vd_markdown(&r));
            }
        }
        VlCommand::Bench {
            conditioning,
            batch,
            runs,
            steps,
        } => {
            let cfg = run::parse_run_config(
                "scenes = \"\"\n",
                "bench",
                &[format!("model.conditioning={conditioning}")],
            )?;
            // 84-px canvases, a 40-word vocabulary and 24 text positions: the study's shapes.
            let r = polymodal_vl::bench::throughput(&cfg.model, 84, 40, batch, 24, runs, steps)?;
            println!("{}", serde_json::to_string(&r)?);
        }
    }
    Ok(())
}
