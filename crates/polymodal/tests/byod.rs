//! Bring your own data, end to end through the binary: a hand-written manifest of PNGs, WAVs
//! and captions imports, trains with no config, evaluates and simulates; a corrupt image fails
//! the import naming its line, and `--skip-bad` imports the rest.

mod common;

use common::{polymodal, stderr};
use std::path::Path;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn imported_folder_trains_evaluates_and_simulates() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let o = polymodal(&["data", "example", "--out", arg(&src), "--per-class", "20"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A hand-written manifest over those files: one row without audio, one without a caption,
    // one caption from a file.
    let manifest = "\
id,label,image,audio,caption
r0,low,images/s000.png,audio/s000.wav,a deep rumbling bass
r1,mid,images/s001.png,,steady middle voice
r2,high,images/s002.png,audio/s002.wav,
r3,low,images/s003.png,audio/s004.wav,captions/s002.txt
";
    let mut text = manifest.to_string();
    // The example's own rows (skipping its header) make the set big enough to learn from.
    let example = std::fs::read_to_string(src.join("manifest.csv")).unwrap();
    for line in example.lines().skip(5) {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(src.join("mine.csv"), &text).unwrap();
    let ds = tmp.path().join("ds");
    let o = polymodal(&[
        "data",
        "import",
        "--manifest",
        arg(&src.join("mine.csv")),
        "--out",
        arg(&ds),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("imported 60 samples"), "{}", stdout(&o));

    let o = polymodal(&["data", "inspect", arg(&ds)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let card = stdout(&o);
    assert!(
        card.contains("60 samples (0 unlabelled), 3 classes"),
        "{card}"
    );
    assert!(card.contains("| caption | text | [64] |"), "{card}");
    let o = polymodal(&["data", "inspect", arg(&ds), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let audio = &json["modalities"][1];
    assert_eq!(audio["name"], "audio");
    assert!(audio["missing"].as_u64().unwrap() >= 1, "{audio}");

    let run = tmp.path().join("run");
    let o = polymodal(&[
        "train",
        "--dataset",
        arg(&ds),
        "--out",
        arg(&run),
        "--set",
        "train.epochs=3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let resolved = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(resolved.contains("encoder = \"token_bag\""), "{resolved}");
    assert!(resolved.contains("encoder = \"cnn\""), "{resolved}");
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(
        metrics["class_names"],
        serde_json::json!(["high", "low", "mid"])
    );
    for m in ["image", "audio", "caption"] {
        assert!(
            metrics["test"]["per_modality"][m]["accuracy"].is_number(),
            "{metrics}"
        );
    }

    let o = polymodal(&["eval", "--run", arg(&run), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let test: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(test, metrics["test"]);

    let sim = tmp.path().join("sim");
    let o = polymodal(&[
        "simulate",
        "--config",
        "configs/al-avdigits-quick.toml",
        "--dataset",
        arg(&ds),
        "--out",
        arg(&sim),
        "--set",
        "active.strategies=[\"random\", \"bmmal\"]",
        "--set",
        "active.seeds=[1]",
        "--set",
        "active.initial=12",
        "--set",
        "active.per_round=6",
        "--set",
        "active.rounds=2",
        "--set",
        "train.epochs=2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let results = std::fs::read_to_string(sim.join("results.csv")).unwrap();
    // round 0 + 2 rounds for each of the two strategies, plus the header
    assert_eq!(results.lines().count(), 1 + 2 * 3, "{results}");
    assert!(
        results.lines().next().unwrap().contains("accuracy_caption"),
        "{results}"
    );
}

#[test]
fn corrupt_image_fails_naming_the_line_and_skip_bad_imports_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let o = polymodal(&["data", "example", "--out", arg(&src), "--per-class", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(src.join("images/s003.png"), b"\x89PNG\r\n\x1a\n truncated").unwrap();
    let ds = tmp.path().join("ds");
    let manifest = src.join("manifest.csv");
    let o = polymodal(&[
        "data",
        "import",
        "--manifest",
        arg(&manifest),
        "--out",
        arg(&ds),
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("1 bad row(s)"), "{err}");
    assert!(
        err.contains("line 5, id `s003`: image: cannot decode image `images/s003.png`"),
        "{err}"
    );
    assert!(!ds.exists(), "a failed import writes nothing");

    let o = polymodal(&[
        "data",
        "import",
        "--manifest",
        arg(&manifest),
        "--out",
        arg(&ds),
        "--skip-bad",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("imported 5 samples"), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("skipped line 5, id `s003`"),
        "{}",
        stderr(&o)
    );
    let card = stdout(&polymodal(&["data", "inspect", arg(&ds)]));
    assert!(
        card.contains("- line 5, id `s003`: image: cannot decode"),
        "{card}"
    );
}

#[test]
fn bad_dataset_paths_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let o = polymodal(&[
        "train",
        "--dataset",
        arg(&tmp.path().join("nope")),
        "--out",
        arg(&tmp.path().join("r")),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("dataset directory not found"),
        "{}",
        stderr(&o)
    );
    let o = polymodal(&[
        "train",
        "--dataset",
        arg(tmp.path()),
        "--out",
        arg(&tmp.path().join("r2")),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("polymodal data import"),
        "{}",
        stderr(&o)
    );
    let o = polymodal(&["train", "--out", arg(&tmp.path().join("r3"))]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--config"), "{}", stderr(&o));
}
