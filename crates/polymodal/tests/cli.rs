//! End-to-end checks of the `polymodal` binary on the built-in data (tiny runs).

mod common;

use common::{polymodal, stderr};
use std::path::Path;
use std::process::Output;

const TINY: [&str; 6] = [
    "--set",
    "train.epochs=1",
    "--set",
    "train.max_train_samples=256",
    "--set",
    "train.eval_batch_size=500",
];

fn train_tiny(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "train",
        "--config",
        "configs/avdigits.toml",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(TINY);
    args.extend(extra);
    polymodal(&args)
}

#[test]
fn train_writes_a_complete_run_and_eval_reproduces_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let o = train_tiny(&run, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "run.json",
        "config.toml",
        "metrics.csv",
        "metrics.json",
        "model.safetensors",
        "report.md",
        "confusion.svg",
        "curves.svg",
    ] {
        assert!(run.join(f).exists(), "missing {f}");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(manifest["status"], "complete");
    assert!(manifest["dataset_fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(manifest["seed"], 1);
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    assert!(metrics["test"]["accuracy"].as_f64().unwrap() > 0.1);
    assert!(metrics["test"]["per_modality"]["image"]["accuracy"].is_number());
    assert!(metrics["test"]["per_modality"]["audio"]["accuracy"].is_number());

    let e = polymodal(&["eval", "--run", run.to_str().unwrap(), "--json"]);
    assert!(e.status.success(), "{}", stderr(&e));
    let recomputed: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    assert_eq!(recomputed, metrics["test"]);

    // The same config and seed reproduce metrics.json byte for byte.
    let again = dir.path().join("again");
    assert!(train_tiny(&again, &[]).status.success());
    assert_eq!(
        std::fs::read(run.join("metrics.json")).unwrap(),
        std::fs::read(again.join("metrics.json")).unwrap()
    );

    // Refuses to overwrite a run.
    let o = train_tiny(&run, &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
}

#[test]
fn every_fusion_trains_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    for fusion in ["sum", "gated", "late"] {
        let out = dir.path().join(fusion);
        let set = format!("model.fusion={fusion}");
        let o = train_tiny(
            &out,
            &["--set", &set, "--set", "train.max_train_samples=64"],
        );
        assert!(o.status.success(), "{fusion}: {}", stderr(&o));
        let cfg = std::fs::read_to_string(out.join("config.toml")).unwrap();
        assert!(cfg.contains(&format!("fusion = \"{fusion}\"")), "{cfg}");
    }
}

#[test]
fn unknown_key_fails_and_names_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "seed = 1\n[train]\nepochz = 3\n").unwrap();
    let out = dir.path().join("run");
    let o = polymodal(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let msg = stderr(&o);
    assert!(
        msg.contains("train.epochz") && msg.contains("bad.toml"),
        "{msg}"
    );
    assert!(!out.exists(), "nothing written for a bad config");
}

#[test]
fn bad_inputs_give_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out = out.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec!["--config", "/no/such.toml"],
            "/no/such.toml",
            "cannot read config",
        ),
        (
            vec![
                "--config",
                "configs/avdigits.toml",
                "--set",
                "train.lr=fast",
            ],
            "train.lr",
            "invalid type",
        ),
        (
            vec![
                "--config",
                "configs/avdigits.toml",
                "--set",
                "data.path=\"/no/data\"",
            ],
            "/no/data",
            "not found",
        ),
        (
            vec![
                "--config",
                "configs/avdigits.toml",
                "--set",
                "model.dropout=1.5",
            ],
            "model.dropout",
            "[0, 1)",
        ),
    ];
    for (args, needle1, needle2) in cases {
        let mut full = vec!["train", "--out", out];
        full.extend(args);
        let o = polymodal(&full);
        let msg = stderr(&o);
        assert!(!o.status.success(), "{full:?}");
        assert!(
            msg.contains(needle1) && msg.contains(needle2),
            "{full:?}: {msg}"
        );
        assert_eq!(msg.trim().lines().count(), 1, "one line: {msg}");
    }
    let malformed = dir.path().join("m.toml");
    std::fs::write(&malformed, "[train\nepochs = 1").unwrap();
    let o = polymodal(&[
        "train",
        "--config",
        malformed.to_str().unwrap(),
        "--out",
        out,
    ]);
    assert!(stderr(&o).contains("malformed TOML"), "{}", stderr(&o));
}

#[test]
fn eval_refuses_incomplete_or_missing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let o = polymodal(&["eval", "--run", dir.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a run directory"));
    std::fs::write(
        dir.path().join("run.json"),
        r#"{"command":"train","status":"running","polymodal_version":"0","git_hash":"x","seed":1,
            "dataset_fingerprint":"f","started_at":0,"finished_at":null,"error":null}"#,
    )
    .unwrap();
    let o = polymodal(&["eval", "--run", dir.path().to_str().unwrap()]);
    assert!(stderr(&o).contains("not complete"), "{}", stderr(&o));
}
