//! `polymodal simulate` end to end on a tiny protocol, including resume after interruption.

mod common;

use common::{polymodal, stderr};
use std::path::Path;
use std::process::Output;

const TINY: [&str; 16] = [
    "--config",
    "configs/al-avdigits-quick.toml",
    "--set",
    "active.strategies=[\"random\", \"bmmal\"]",
    "--set",
    "active.seeds=[7]",
    "--set",
    "active.initial=40",
    "--set",
    "active.per_round=20",
    "--set",
    "active.rounds=2",
    "--set",
    "train.epochs=1",
    "--set",
    "train.eval_batch_size=500",
];

fn simulate(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["simulate", "--out", out.to_str().unwrap()];
    args.extend(TINY);
    args.extend(extra);
    polymodal(&args)
}

/// results.csv without the timing columns.
fn results_without_timings(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("results.csv"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').take(11).collect::<Vec<_>>().join(","))
        .collect()
}

#[test]
fn simulation_writes_its_outputs_and_resumes_identically() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sim");
    let o = simulate(&out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "results.csv",
        "aubc.csv",
        "report.md",
        "curves.svg",
        "curves.png",
        "contribution.svg",
        "contribution.png",
        "run.json",
        "config.toml",
    ] {
        assert!(out.join(f).exists(), "missing {f}");
    }
    let rows = results_without_timings(&out);
    assert_eq!(rows[0], "strategy,seed,round,n_labeled,accuracy,macro_accuracy,macro_f1,accuracy_image,accuracy_audio,contribution_image,contribution_audio");
    // 2 strategies x 1 seed x (round 0 + 2 rounds)
    assert_eq!(rows.len(), 1 + 2 * 3);
    assert!(rows[1].starts_with("random,7,0,40,"));
    assert!(rows[3].starts_with("random,7,2,80,"));
    // Round 0 is shared: identical metrics for both strategies.
    let strip = |r: &str| r.split_once(',').unwrap().1.to_string();
    assert_eq!(strip(&rows[1]), strip(&rows[4]));
    // Contributions are shares: they sum to 1.
    for r in &rows[1..] {
        let f: Vec<f64> = r.split(',').skip(9).map(|v| v.parse().unwrap()).collect();
        assert!((f[0] + f[1] - 1.0).abs() < 1e-4, "{r}");
    }
    let row: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("cells/bmmal/seed7/round1/row.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(row["selected_ids"].as_array().unwrap().len(), 20);
    assert_eq!(row["labelled_ids"].as_array().unwrap().len(), 60);

    // Interrupt: the last cell and the summaries vanish, the manifest says running.
    let before = results_without_timings(&out);
    std::fs::remove_file(out.join("cells/bmmal/seed7/round2/row.json")).unwrap();
    std::fs::remove_file(out.join("results.csv")).unwrap();
    let manifest = std::fs::read_to_string(out.join("run.json")).unwrap();
    std::fs::write(
        out.join("run.json"),
        manifest.replace("\"complete\"", "\"running\""),
    )
    .unwrap();
    let kept = std::fs::metadata(out.join("cells/random/seed7/round2/row.json"))
        .unwrap()
        .modified()
        .unwrap();
    let o = simulate(&out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        results_without_timings(&out),
        before,
        "resume gives identical results"
    );
    let after = std::fs::metadata(out.join("cells/random/seed7/round2/row.json"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(kept, after, "finished cells are not recomputed");

    // A different protocol in the same directory is refused.
    let o = simulate(&out, &["--set", "active.rounds=3"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("different config"));
}

#[test]
fn impossible_budgets_and_unknown_strategies_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let o = simulate(&dir.path().join("a"), &["--set", "active.per_round=5000"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("exceeds the pool"), "{}", stderr(&o));
    let o = simulate(
        &dir.path().join("b"),
        &["--set", "active.strategies=[\"psychic\"]"],
    );
    let msg = stderr(&o);
    assert!(!o.status.success());
    assert!(msg.contains("active.strategies"), "{msg}");
}
