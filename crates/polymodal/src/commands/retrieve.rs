//! `polymodal retrieve`: cross-modal retrieval on a pretraining run's embeddings.

use anyhow::Result;
use polymodal_core::Split;
use polymodal_lab::retrieve::Query;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A `polymodal pretrain` run directory.
    #[arg(long)]
    pretrained: PathBuf,
    /// Split to evaluate and search: train, val or test.
    #[arg(long, default_value = "test")]
    split: Split,
    /// Nearest neighbours of this sample id, in every modality.
    #[arg(long, conflicts_with = "query_text")]
    query_id: Option<String>,
    /// Nearest neighbours of this text (needs a text modality of tokens).
    #[arg(long)]
    query_text: Option<String>,
    /// Neighbours per query and modality.
    #[arg(short, long, default_value_t = 5)]
    k: usize,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let query = match (args.query_id, args.query_text) {
        (Some(id), _) => Some(Query::Id(id)),
        (None, Some(t)) => Some(Query::Text(t)),
        (None, None) => None,
    };
    let r = polymodal_lab::retrieve::run(&args.pretrained, args.split, query.as_ref(), args.k)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!("cross-modal retrieval on the {} split", r.split);
    println!("| query → target | queries | R@1 | R@5 | R@10 | median rank |");
    println!("|---|---|---|---|---|---|");
    for d in &r.directions {
        println!(
            "| {} → {} | {} | {:.3} | {:.3} | {:.3} | {} |",
            d.from, d.to, d.queries, d.recall_at_1, d.recall_at_5, d.recall_at_10, d.median_rank
        );
    }
    for n in &r.neighbours {
        println!(
            "\nquery ({}) → nearest {}:",
            n.query_modality, n.target_modality
        );
        for (id, s) in &n.hits {
            println!("  {id}  {s:.4}");
        }
    }
    Ok(())
}
