//! `project init`, `round select|train`, `label serve|import|export` and `status`: parse, call
//! `polymodal_lab`, print.

use anyhow::{Context, Result};
use polymodal_lab::data::Locations;
use polymodal_lab::project::{ImportPolicy, Project};
use polymodal_lab::rounds::ProjectRequest;
use polymodal_lab::serve::{self, ServeOptions};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Labelling: serve the labelling page, import or export labels.
    Label {
        #[command(subcommand)]
        what: LabelCommand,
    },
    /// Labelling projects (a directory holding the project's SQLite database).
    Project {
        #[command(subcommand)]
        what: ProjectCommand,
    },
    /// Real active-learning rounds: train on the labels so far, select the next batch.
    Round {
        #[command(subcommand)]
        what: RoundCommand,
    },
    /// A project's rounds, labelled and queued counts, class balance and per-round metrics.
    Status {
        #[arg(long)]
        project: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Subcommand)]
pub enum ProjectCommand {
    /// Create a labelling project for a dataset (which is never modified).
    Init {
        /// An imported dataset directory; without it, the built-in AV-Digits.
        #[arg(long)]
        dataset: Option<PathBuf>,
        /// The new project directory (must not exist or be empty).
        #[arg(long)]
        out: PathBuf,
        /// The project's TOML config (training keys as in configs/avdigits.toml, plus an
        /// optional `[strategy]` table of strategy parameters), stored for the round commands.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Keep only this many of the dataset's train labels (the rest are hidden: they join
        /// the pool), chosen as `simulate` chooses its round-0 set for --seed.
        #[arg(long, value_name = "N")]
        keep_labels: Option<usize>,
        /// Seed of the --keep-labels choice.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(clap::Subcommand)]
pub enum RoundCommand {
    /// Select the next batch with a strategy and queue it for labelling (trains the model of
    /// the labels so far first, if there is none yet).
    Select {
        #[arg(long)]
        project: PathBuf,
        /// random, entropy, margin, least_confidence, bald, coreset, kmeans, badge or bmmal;
        /// with --pretrained: mmcsal, random, kmeans, typiclust or probcover.
        #[arg(long)]
        strategy: String,
        #[arg(long)]
        budget: usize,
        /// A `polymodal pretrain` run of this project's dataset: select a cold-start batch on
        /// its embeddings instead (no labels needed, nothing trained).
        #[arg(long)]
        pretrained: Option<PathBuf>,
    },
    /// Train a model on every label given so far and record its test metrics for the round.
    Train {
        #[arg(long)]
        project: PathBuf,
    },
}

#[derive(clap::Subcommand)]
pub enum LabelCommand {
    /// Serve the labelling page; prints its URL (with the access token).
    Serve {
        #[arg(long)]
        project: PathBuf,
        /// Address to listen on. Anything but a loopback address also needs --allow-remote.
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
        /// Port (0: any free port).
        #[arg(long, default_value_t = serve::DEFAULT_PORT)]
        port: u16,
        /// Allow listening on a non-loopback address (anyone with the URL can read the data).
        #[arg(long)]
        allow_remote: bool,
        /// How long an item stays reserved for the page that received it.
        #[arg(long, default_value_t = 600)]
        lease_seconds: u64,
        /// Items leased to one page at a time.
        #[arg(long, default_value_t = 10)]
        batch: usize,
        /// Access token (default: a fresh random one).
        #[arg(long)]
        token: Option<String>,
    },
    /// Import labels from a CSV file with `id` and `label` columns.
    Import {
        #[arg(long)]
        project: PathBuf,
        #[arg(required_unless_present = "from_dataset")]
        file: Option<PathBuf>,
        /// Replace existing different labels (the old ones stay in the history).
        #[arg(long)]
        overwrite: bool,
        /// Recorded as who gave these labels.
        #[arg(long, default_value = "import")]
        who: String,
        /// Instead of a file: label the latest round's selection with the dataset's own hidden
        /// labels (replaying a simulation, or trying a strategy before paying for labels).
        #[arg(long, conflicts_with = "file")]
        from_dataset: bool,
    },
    /// Export the current labels as CSV `id,label`.
    Export {
        #[arg(long)]
        project: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(cmd: Command, at: &Locations) -> Result<()> {
    match cmd {
        Command::Project {
            what:
                ProjectCommand::Init {
                    dataset,
                    out,
                    config,
                    keep_labels,
                    seed,
                },
        } => init(dataset, &out, config.as_deref(), keep_labels, seed, at),
        Command::Round { what } => match what {
            RoundCommand::Select {
                project,
                strategy,
                budget,
                pretrained,
            } => {
                let (round, ids) = match pretrained {
                    Some(dir) => {
                        let kind: polymodal_active::coldstart::ColdStartKind = strategy
                            .parse()
                            .map_err(|e| anyhow::anyhow!("--strategy: {e}"))?;
                        polymodal_lab::rounds::select_cold(
                            &project,
                            &dir,
                            kind,
                            &Default::default(),
                            budget,
                        )?
                    }
                    None => {
                        let kind = strategy
                            .parse()
                            .map_err(|e| anyhow::anyhow!("--strategy: {e}"))?;
                        polymodal_lab::rounds::select(
                            &project,
                            kind,
                            budget,
                            &mut crate::progress::BarObserver::new(),
                        )?
                    }
                };
                println!(
                    "round {round}: {} samples queued for labelling ({strategy}); label them with `polymodal label serve --project {}`",
                    ids.len(),
                    project.display()
                );
                Ok(())
            }
            RoundCommand::Train { project } => {
                let m = polymodal_lab::rounds::train(
                    &project,
                    &mut crate::progress::BarObserver::new(),
                )?;
                let per: Vec<String> = m
                    .modalities
                    .iter()
                    .zip(&m.modality_accuracy)
                    .map(|(n, a)| format!("{n} {a:.4}"))
                    .collect();
                println!(
                    "round {}: trained on {} labels: test accuracy {:.4} (fused), {}",
                    m.round,
                    m.n_labeled,
                    m.accuracy,
                    per.join(", ")
                );
                println!(
                    "report with the learning curve: {}",
                    project.join(polymodal_lab::rounds::REPORT).display()
                );
                Ok(())
            }
        },
        Command::Label { what } => match what {
            LabelCommand::Serve {
                project,
                host,
                port,
                allow_remote,
                lease_seconds,
                batch,
                token,
            } => {
                let opts = ServeOptions {
                    addr: SocketAddr::new(host, port),
                    allow_remote,
                    lease_seconds,
                    batch,
                    token,
                    ready: Some(Box::new(|info: &serve::ServeInfo| {
                        if let Some(w) = &info.warning {
                            eprintln!("warning: {w}");
                        }
                        println!("labelling page: {}", info.url);
                        println!(
                            "(Ctrl-C stops the server; every label shown as saved is on disk)"
                        );
                    })),
                    shutdown: None,
                };
                serve::run(&project, opts)?;
                Ok(())
            }
            LabelCommand::Import {
                project,
                file,
                overwrite,
                who,
                from_dataset,
            } => {
                if from_dataset {
                    let n = polymodal_lab::rounds::label_from_dataset(&project)?;
                    println!("{n} labels given from the dataset's own labels");
                    return Ok(());
                }
                let file = file.context("a CSV file or --from-dataset")?;
                let mut p = Project::open(&project)?;
                let policy = if overwrite {
                    ImportPolicy::Overwrite
                } else {
                    ImportPolicy::Refuse
                };
                let s = p.import_labels(&file, &who, policy)?;
                println!(
                    "{}: {} labels added, {} overwritten, {} unchanged, {} duplicate rows ignored",
                    file.display(),
                    s.added,
                    s.overwritten,
                    s.unchanged,
                    s.duplicates
                );
                Ok(())
            }
            LabelCommand::Export { project, out } => {
                let p = Project::open(&project)?;
                let n = p.export_labels(&out)?;
                println!("{}: {n} labels", out.display());
                Ok(())
            }
        },
        Command::Status { project, json } => status(&project, json),
    }
}

fn init(
    dataset: Option<PathBuf>,
    out: &Path,
    config: Option<&Path>,
    keep_labels: Option<usize>,
    seed: u64,
    at: &Locations,
) -> Result<()> {
    let request = ProjectRequest {
        dataset,
        config: config.map(Path::to_path_buf),
        keep_labels,
        seed,
    };
    let p = polymodal_lab::rounds::init_project(out, &request, at)?;
    let c = p.counts()?;
    println!(
        "project {} for {} ({} classes): {} train rows, {} already labelled, {} in the pool",
        out.display(),
        p.dataset().path().display(),
        p.classes().len(),
        c.train,
        c.labelled,
        c.pool
    );
    Ok(())
}

fn status(project: &Path, json: bool) -> Result<()> {
    let p = Project::open(project)?;
    let counts = p.counts()?;
    let rounds = p.rounds()?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "counts": counts,
                "rounds": rounds,
            }))?
        );
        return Ok(());
    }
    println!(
        "project {} — dataset {}",
        project.display(),
        p.dataset().path().display()
    );
    println!(
        "labelled {}/{} train rows (dataset {}, import {}, page {}); pool {}; queued {} ({} leased now); skipped {}",
        counts.labelled,
        counts.train,
        counts.labelled_dataset,
        counts.labelled_import,
        counts.labelled_page,
        counts.pool,
        counts.queued_pending,
        counts.queued_leased,
        counts.skipped
    );
    println!("class balance:");
    for (name, n) in &counts.per_class {
        println!("  {name:>12} {n}");
    }
    if rounds.is_empty() {
        println!("no rounds yet");
    }
    for r in &rounds {
        println!(
            "round {}: {} budget {}, {:?}; selected {}, labelled {}, skipped {}, pending {}",
            r.number, r.strategy, r.budget, r.status, r.selected, r.labelled, r.skipped, r.pending
        );
        if let Some(ck) = &r.checkpoint {
            println!("  checkpoint {ck}");
        }
        if let Some(m) = &r.metrics {
            println!("  metrics {m}");
        }
    }
    Ok(())
}
