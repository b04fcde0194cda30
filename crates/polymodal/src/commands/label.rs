//! `project init`, `label serve|import|export` and `status`: parse, call `polymodal_lab`, print.

use anyhow::{Context, Result};
use polymodal_lab::project::{DatasetSource, ImportPolicy, InitOptions, Project};
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
        /// The project's TOML config, stored in the project for the round commands.
        #[arg(long)]
        config: Option<PathBuf>,
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
        file: PathBuf,
        /// Replace existing different labels (the old ones stay in the history).
        #[arg(long)]
        overwrite: bool,
        /// Recorded as who gave these labels.
        #[arg(long, default_value = "import")]
        who: String,
    },
    /// Export the current labels as CSV `id,label`.
    Export {
        #[arg(long)]
        project: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Project {
            what:
                ProjectCommand::Init {
                    dataset,
                    out,
                    config,
                },
        } => init(dataset, &out, config.as_deref()),
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
            } => {
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

fn init(dataset: Option<PathBuf>, out: &Path, config: Option<&Path>) -> Result<()> {
    let source = match dataset {
        Some(d) => DatasetSource::Store(d),
        None => {
            let mut cfg = polymodal_data::AvDigitsConfig::default();
            crate::config::resolve_avdigits_path(&mut cfg)?;
            DatasetSource::AvDigits(cfg.path)
        }
    };
    let config_toml = match config {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?,
        None => String::new(),
    };
    let p = Project::init(
        out,
        &InitOptions {
            dataset: source,
            config_toml,
            dataset_labels: Default::default(),
        },
    )?;
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
