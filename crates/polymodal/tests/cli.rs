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
    assert_eq!(recomputed["test"], metrics["test"]);
    assert_eq!(recomputed["diagnostics"], metrics["test_diagnostics"]);
    assert!(recomputed["robustness"].is_null());

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
    for fusion in ["sum", "gated", "late", "cross_attention", "tensor"] {
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

#[test]
fn balance_options_diagnostics_and_robustness() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let o = train_tiny(
        &run,
        &[
            "--set",
            "model.fusion=cross_attention",
            "--set",
            "train.epochs=2",
            "--set",
            "train.ogm.enabled=true",
            "--set",
            "train.ogm.start_epoch=2",
            "--set",
            "train.modality_dropout=0.3",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // ρ and the coefficients of every modulated step (epoch 2 only: 256 / 64 = 4 steps).
    let ogm = std::fs::read_to_string(run.join("ogm.csv")).unwrap();
    let lines: Vec<&str> = ogm.lines().collect();
    assert_eq!(
        lines[0],
        "epoch,batch,dominant,rho,score_image,score_audio,k_image,k_audio"
    );
    assert_eq!(lines.len(), 1 + 4, "{ogm}");
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f[0], "2");
        let k: Vec<f64> = f[6..8].iter().map(|x| x.parse().unwrap()).collect();
        assert!(k.iter().all(|&k| k > 0.0 && k <= 1.0), "{l}");
        assert!(
            k.contains(&1.0),
            "only the dominant modality is modulated: {l}"
        );
    }
    // The modulated parameters, by owner, are listed once in the report (and logged at info).
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("## OGM-GE") && report.contains("encoders.0.Conv.conv1.weight"));
    assert!(report.contains("## Modality diagnostics"));
    // Contributions sum to 1 per sample and on average.
    let csv = std::fs::read_to_string(run.join("contributions.csv")).unwrap();
    let mut rows = 0;
    for l in csv.lines().skip(1) {
        let f: Vec<f64> = l
            .split(',')
            .skip(2)
            .take(2)
            .map(|x| x.parse().unwrap())
            .collect();
        assert!((f[0] + f[1] - 1.0).abs() < 1e-5, "{l}");
        rows += 1;
    }
    assert_eq!(rows, 1000);
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    let c = &metrics["test_diagnostics"]["contribution"];
    let sum = c["image"].as_f64().unwrap() + c["audio"].as_f64().unwrap();
    assert!((sum - 1.0).abs() < 1e-6, "{sum}");

    // Robustness: dropping a modality at test time equals the diagnostics' "without it".
    let e = polymodal(&[
        "eval",
        "--run",
        run.to_str().unwrap(),
        "--json",
        "--drop",
        "audio",
    ]);
    assert!(e.status.success(), "{}", stderr(&e));
    let v: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    assert_eq!(
        v["robustness"]["test"]["accuracy"],
        v["diagnostics"]["accuracy_without"]["audio"]
    );
    assert!(v["robustness"]["test"]["per_modality"]["audio"].is_null());
    // Noise: reproducible for a seed, and a very low SNR hurts.
    let noisy = |seed: &str| {
        let e = polymodal(&[
            "eval",
            "--run",
            run.to_str().unwrap(),
            "--json",
            "--noise",
            "image=-20dB",
            "--noise-seed",
            seed,
        ]);
        assert!(e.status.success(), "{}", stderr(&e));
        let v: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
        v["robustness"]["test"]["per_modality"]["image"]["accuracy"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(noisy("3"), noisy("3"));
    let clean = v["test"]["per_modality"]["image"]["accuracy"]
        .as_f64()
        .unwrap();
    assert!(
        noisy("3") < clean,
        "image at -20 dB SNR should be worse than clean"
    );
    for (args, needle) in [
        (vec!["--drop", "smell"], "unknown modality `smell`"),
        (vec!["--noise", "image=loud"], "standard deviation"),
        (vec!["--drop", "image", "--drop", "audio"], "every modality"),
    ] {
        let mut full = vec!["eval", "--run", run.to_str().unwrap()];
        full.extend(args);
        let o = polymodal(&full);
        assert!(!o.status.success());
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
    }
}

#[test]
fn compare_writes_one_table_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cmp");
    let args = |out: &Path, extra: &'static str| {
        let mut v: Vec<String> = [
            "compare",
            "--config",
            "configs/fusion-compare.toml",
            "--out",
            out.to_str().unwrap(),
            "--set",
            "compare.fusions=[\"concat\", \"tensor\"]",
            "--set",
            "compare.seeds=[5]",
            "--set",
            "train.epochs=1",
            "--set",
            "train.max_train_samples=128",
            "--set",
            "train.eval_batch_size=500",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if !extra.is_empty() {
            v.push("--set".into());
            v.push(extra.into());
        }
        v
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        polymodal(&refs)
    };
    let o = run(args(&out, ""));
    assert!(o.status.success(), "{}", stderr(&o));
    let table = std::fs::read_to_string(out.join("table.md")).unwrap();
    for needle in [
        "| concat | off |",
        "| concat | on |",
        "| tensor | off |",
        "| tensor | on |",
        "Paired effect",
    ] {
        assert!(table.contains(needle), "{needle}: {table}");
    }
    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(results.lines().count(), 1 + 4);
    assert!(out.join("cells/tensor/ogm-on/seed5/row.json").exists());
    // Rerun: every cell is reused, the table is the same.
    std::fs::remove_file(out.join("table.md")).unwrap();
    let o = run(args(&out, ""));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(out.join("table.md")).unwrap(),
        table
    );
    // A different config is refused rather than mixed in.
    let o = run(args(&out, "train.lr=0.01"));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("different config"), "{}", stderr(&o));
}

#[test]
fn demo_refuses_a_non_empty_output_before_training() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
    let o = polymodal(&["demo", "--out", dir.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(),
        "mine"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
