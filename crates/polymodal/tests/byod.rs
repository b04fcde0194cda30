//! Bring your own data, end to end through the binary: a hand-written manifest of PNGs, WAVs
//! and captions imports, trains with no config, evaluates and simulates; a corrupt image fails
//! the import naming its line, and `--skip-bad` imports the rest.

mod common;

use common::{polymodal, stderr};
use std::path::Path;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs polymodal and requires success, showing its stderr otherwise.
fn ok(args: &[&str]) -> std::process::Output {
    let o = polymodal(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    o
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn imported_folder_trains_evaluates_and_simulates() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    ok(&["data", "example", "--out", arg(&src), "--per-class", "20"]);
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
    let o = ok(&[
        "data",
        "import",
        "--manifest",
        arg(&src.join("mine.csv")),
        "--out",
        arg(&ds),
    ]);
    assert!(stdout(&o).contains("imported 60 samples"), "{}", stdout(&o));

    let o = ok(&["data", "inspect", arg(&ds)]);
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
    ok(&[
        "train",
        "--dataset",
        arg(&ds),
        "--out",
        arg(&run),
        "--set",
        "train.epochs=3",
    ]);
    assert_eq!(caption_input(&run)["encoder"].as_str(), Some("token_bag"));
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

    let o = ok(&["eval", "--run", arg(&run), "--json"]);
    let eval: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(eval["test"], metrics["test"]);
    // Robustness on imported data: dropping the text works, noising token ids is refused.
    let o = ok(&["eval", "--run", arg(&run), "--json", "--drop", "caption"]);
    let eval: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(eval["robustness"]["test"]["accuracy"].is_number(), "{eval}");
    let o = polymodal(&["eval", "--run", arg(&run), "--noise", "caption=0.5"]);
    assert!(stderr(&o).contains("`caption` is text"), "{}", stderr(&o));

    let sim = tmp.path().join("sim");
    ok(&[
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
    ok(&["data", "example", "--out", arg(&src), "--per-class", "2"]);
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

    let o = ok(&[
        "data",
        "import",
        "--manifest",
        arg(&manifest),
        "--out",
        arg(&ds),
        "--skip-bad",
    ]);
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

/// Four modalities (image, audio, text and a feature vector from a .npy file) train and
/// simulate; BMMAL's Shapley weighting handles all four.
#[test]
fn four_modalities_with_a_feature_file() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    ok(&["data", "example", "--out", arg(&src), "--per-class", "8"]);
    let example = std::fs::read_to_string(src.join("manifest.csv")).unwrap();
    let rows: Vec<&str> = example.lines().skip(1).collect();
    // A 2-D float32 .npy: row i is a noisy one-hot of sample i's class.
    let dim = 4;
    let mut values = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let class = ["low", "mid", "high"]
            .iter()
            .position(|c| row.split(',').nth(1) == Some(*c))
            .unwrap();
        for j in 0..dim {
            values.push(if j == class {
                1.0f32
            } else {
                0.1 * ((i * 7 + j) % 5) as f32
            });
        }
    }
    let npy = polymodal_data::import::example::npy_f32(rows.len(), dim, &values);
    std::fs::write(src.join("feats.npy"), npy).unwrap();
    let mut manifest = String::from("id,label,image,audio,caption,feats\n");
    for (i, row) in rows.iter().enumerate() {
        manifest.push_str(&format!("{row},feats.npy#{i}\n"));
    }
    std::fs::write(src.join("four.csv"), manifest).unwrap();
    let ds = tmp.path().join("ds");
    ok(&[
        "data",
        "import",
        "--manifest",
        arg(&src.join("four.csv")),
        "--out",
        arg(&ds),
    ]);

    let run = tmp.path().join("run");
    ok(&[
        "train",
        "--dataset",
        arg(&ds),
        "--out",
        arg(&run),
        "--set",
        "train.epochs=2",
    ]);
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("metrics.json")).unwrap()).unwrap();
    let per: Vec<&String> = metrics["test"]["per_modality"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(per, ["audio", "caption", "feats", "image"]);

    let sim = tmp.path().join("sim");
    ok(&[
        "simulate",
        "--config",
        "configs/al-avdigits-quick.toml",
        "--dataset",
        arg(&ds),
        "--out",
        arg(&sim),
        "--set",
        "active.strategies=[\"bmmal\"]",
        "--set",
        "active.seeds=[1]",
        "--set",
        "active.initial=6",
        "--set",
        "active.per_round=3",
        "--set",
        "active.rounds=1",
        "--set",
        "train.epochs=1",
    ]);
    let results = std::fs::read_to_string(sim.join("results.csv")).unwrap();
    assert!(
        results
            .lines()
            .next()
            .unwrap()
            .contains("contribution_feats"),
        "{results}"
    );
}

/// `polymodal embed` caches MiniLM vectors, and training then sees the text as a 384-d vector.
/// Needs the fetched model (scripts/minilm/fetch.sh); CI fetches it and sets
/// POLYMODAL_REQUIRE_MINILM=1 so this cannot silently skip there.
#[test]
fn embed_caches_minilm_vectors_that_training_uses() {
    let model = std::env::var_os("POLYMODAL_MINILM_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/models/all-MiniLM-L6-v2")
        });
    if !model.join("model.safetensors").is_file() {
        assert!(
            std::env::var("POLYMODAL_REQUIRE_MINILM").as_deref() != Ok("1"),
            "all-MiniLM-L6-v2 not found in {} but POLYMODAL_REQUIRE_MINILM=1",
            model.display()
        );
        eprintln!("skipped: model not fetched, run scripts/minilm/fetch.sh");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    assert!(
        polymodal(&["data", "example", "--out", arg(&src), "--per-class", "4"])
            .status
            .success()
    );
    let ds = tmp.path().join("ds");
    ok(&[
        "data",
        "import",
        "--manifest",
        arg(&src.join("manifest.csv")),
        "--out",
        arg(&ds),
    ]);
    let o = polymodal(&[
        "embed",
        "--dataset",
        arg(&ds),
        "--modality",
        "image",
        "--text-model",
        arg(&model),
    ]);
    assert!(
        stderr(&o).contains("no text modality `image` (text modalities: caption)"),
        "{}",
        stderr(&o)
    );
    let o = ok(&[
        "embed",
        "--dataset",
        arg(&ds),
        "--modality",
        "caption",
        "--text-model",
        arg(&model),
    ]);
    assert!(stdout(&o).contains("embedded 11 texts"), "{}", stdout(&o));
    assert!(stdout(&polymodal(&["data", "inspect", arg(&ds)]))
        .contains("Cached MiniLM embeddings: caption"));

    let run = tmp.path().join("run");
    ok(&[
        "train",
        "--dataset",
        arg(&ds),
        "--out",
        arg(&run),
        "--set",
        "train.epochs=1",
    ]);
    let caption = caption_input(&run);
    assert_eq!(caption["kind"].as_str(), Some("vector"), "{caption}");
    assert_eq!(caption["shape"].as_array().unwrap().len(), 1);
    assert_eq!(caption["shape"][0].as_integer(), Some(384));
    assert_eq!(caption["encoder"].as_str(), Some("mlp"));
    let run = tmp.path().join("run-tokens");
    ok(&[
        "train",
        "--dataset",
        arg(&ds),
        "--out",
        arg(&run),
        "--set",
        "train.epochs=1",
        "--set",
        "dataset.text_features=tokens",
    ]);
    assert_eq!(caption_input(&run)["encoder"].as_str(), Some("token_bag"));
}

/// The `caption` entry of `[[dataset.inputs]]` in a run's resolved config.
fn caption_input(run: &Path) -> toml::Value {
    let config: toml::Table = std::fs::read_to_string(run.join("config.toml"))
        .unwrap()
        .parse()
        .unwrap();
    config["dataset"]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"].as_str() == Some("caption"))
        .cloned()
        .unwrap()
}
