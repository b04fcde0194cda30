//! `polymodal data import | inspect | example`: bring your own data.

use anyhow::{anyhow, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use polymodal_data::import::{self, schema::Schema, ImportOptions};
use polymodal_data::store::{self, DataCard};
use std::path::Path;

pub fn import(manifest: &Path, out: &Path, schema: Option<&Path>, skip_bad: bool) -> Result<()> {
    let schema = schema
        .map(|p| -> Result<Schema> {
            let text = std::fs::read_to_string(p)
                .map_err(|e| anyhow!("{}: cannot read schema: {e}", p.display()))?;
            Schema::parse_toml(&text).map_err(|e| anyhow!("{}: {e}", p.display()))
        })
        .transpose()?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("decoding [{bar:30}] {pos}/{len} rows ({eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let report = import::import(ImportOptions {
        manifest,
        schema,
        out,
        skip_bad,
        progress: &progress,
    });
    bar.finish_and_clear();
    let report = report?;
    for row in &report.skipped {
        eprintln!("skipped {row}");
    }
    println!(
        "imported {} samples into {} ({} rows skipped)",
        report.samples,
        out.display(),
        report.skipped.len()
    );
    println!("data card: {}", out.join(store::CARD_MD).display());
    Ok(())
}

pub fn inspect(dir: &Path, json: bool) -> Result<()> {
    let meta = store::read_meta(dir)?;
    let card = DataCard::from_meta(&meta);
    if json {
        println!("{}", serde_json::to_string_pretty(&card)?);
    } else {
        print!("{}", card.to_markdown());
        let cached: Vec<String> = meta
            .modalities
            .iter()
            .filter(|m| store::embedding_path(dir, &m.spec.name).exists())
            .map(|m| m.spec.name.clone())
            .collect();
        if !cached.is_empty() {
            println!("\nCached MiniLM embeddings: {}", cached.join(", "));
        }
    }
    Ok(())
}

pub fn example(out: &Path, per_class: usize) -> Result<()> {
    if out.exists() && out.read_dir()?.next().is_some() {
        anyhow::bail!("{}: exists and is not empty", out.display());
    }
    import::example::write(out, per_class, 1)
        .with_context(|| format!("{}: cannot write the example", out.display()))?;
    println!(
        "wrote {} samples and {}",
        per_class * import::example::CLASSES.len(),
        out.join("manifest.csv").display()
    );
    Ok(())
}
