//! Manifest import: a hand-made folder of PNGs, WAVs at odd rates, texts and feature files
//! imports, loads and round-trips; every kind of bad input is reported with its line, id and
//! reason; a failed import writes nothing.

use polymodal_core::{ModalityKind, Split};
use polymodal_data::import::{example, import, schema::Schema, BadRow, ImportError, ImportOptions};
use polymodal_data::store::{self, StoreLoadConfig};
use std::path::{Path, PathBuf};

fn run(
    manifest: &Path,
    out: &Path,
    schema: Option<Schema>,
    skip_bad: bool,
) -> Result<polymodal_data::import::ImportReport, ImportError> {
    import(ImportOptions {
        manifest,
        schema,
        out,
        skip_bad,
        progress: &|_, _| {},
    })
}

fn example_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    example::write(&src, 4, 7).unwrap();
    (tmp, src)
}

fn bad_rows(e: ImportError) -> Vec<BadRow> {
    match e {
        ImportError::BadRows { rows, .. } => rows,
        other => panic!("expected bad rows, got {other}"),
    }
}

fn write_npy_f32(path: &Path, rows: usize, dim: usize, values: &[f32]) {
    std::fs::write(path, example::npy_f32(rows, dim, values)).unwrap();
}

/// A 440 Hz tone at half scale, the same value on every channel.
fn tone_440(rate: u32, channels: usize, seconds: f32) -> Vec<i16> {
    (0..(rate as f32 * seconds) as usize)
        .flat_map(|t| {
            let s = (0.5 * (std::f32::consts::TAU * 440.0 * t as f32 / rate as f32).sin() * 32767.0)
                as i16;
            std::iter::repeat_n(s, channels)
        })
        .collect()
}

/// The audio front end at 8 kHz with default mels and frames.
fn front_end_8k() -> polymodal_data::import::decode::AudioFrontEnd {
    let schema = Schema::parse_toml(
        "[[modalities]]\nname = \"snd\"\nkind = \"audio\"\nsample_rate = 8000\n",
    )
    .unwrap();
    polymodal_data::import::decode::AudioFrontEnd::new(&schema.modalities[0])
}

#[test]
fn example_folder_imports_with_missing_modalities_and_loads() {
    let (tmp, src) = example_dir();
    let out = tmp.path().join("ds");
    let report = run(&src.join("manifest.csv"), &out, None, false).unwrap();
    assert_eq!(report.samples, 12);
    assert!(report.skipped.is_empty());

    let meta = store::read_meta(&out).unwrap();
    assert_eq!(meta.class_names, ["high", "low", "mid"]);
    let kinds: Vec<_> = meta
        .modalities
        .iter()
        .map(|m| (m.spec.name.as_str(), m.spec.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("image", ModalityKind::Image),
            ("audio", ModalityKind::Audio),
            ("caption", ModalityKind::Text)
        ]
    );
    // Some images are colour, so all become RGB at the default size.
    assert_eq!(meta.modalities[0].spec.shape, [3, 32, 32]);
    assert_eq!(meta.modalities[1].spec.shape, [1, 32, 32]);
    // example: every 7th sample (i % 7 == 3) has no audio, i % 11 == 5 no caption.
    assert_eq!(meta.modalities[1].present, 12 - 2);
    assert_eq!(meta.modalities[2].present, 12 - 1);
    for s in Split::ALL {
        assert!(meta.splits.contains(&s), "no {s} samples");
    }

    let data = store::load(&out, &StoreLoadConfig::default()).unwrap();
    assert_eq!(data.len(), 12);
    let audio = data.modality_index("audio").unwrap();
    let i3 = data.ids.iter().position(|id| id.0 == "s003").unwrap();
    assert!(!data.modalities[audio].present[i3]);
    assert!(
        data.modalities[audio].row(i3).iter().all(|&v| v == 0.0),
        "absent rows stay zero"
    );
    let caption = data.modality_index("caption").unwrap();
    assert_eq!(data.modalities[caption].spec.shape, [64]);
    assert!(data.modalities[caption].row(0).iter().any(|&v| v > 0.0));
    // Same directory, same values, same fingerprint.
    let again = store::load(&out, &StoreLoadConfig::default()).unwrap();
    assert_eq!(again.fingerprint, data.fingerprint);
    assert_eq!(again.modalities[0].values, data.modalities[0].values);

    let card = std::fs::read_to_string(out.join(store::CARD_MD)).unwrap();
    assert!(
        card.contains("| audio | audio | [1, 32, 32] | 10 | 2 |"),
        "{card}"
    );
    assert!(card.contains("Rejected rows\n\nNone."), "{card}");
}

#[test]
fn corrupt_image_fails_naming_the_line_and_writes_nothing() {
    let (tmp, src) = example_dir();
    std::fs::write(src.join("images/s004.png"), b"not a png at all").unwrap();
    let out = tmp.path().join("ds");
    let rows = bad_rows(run(&src.join("manifest.csv"), &out, None, false).unwrap_err());
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].line, 6); // header is line 1, s004 is the 5th row
    assert_eq!(rows[0].id, "s004");
    assert!(
        rows[0].reason.contains("image: cannot") && rows[0].reason.contains("s004.png"),
        "{}",
        rows[0].reason
    );
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        ["src"],
        "a failed import leaves no temporary directory"
    );

    let report = run(&src.join("manifest.csv"), &out, None, true).unwrap();
    assert_eq!(report.samples, 11);
    assert_eq!(report.skipped.len(), 1);
    let meta = store::read_meta(&out).unwrap();
    assert!(!meta.ids.contains(&"s004".to_string()));
    let card = std::fs::read_to_string(out.join(store::CARD_MD)).unwrap();
    assert!(card.contains("line 6, id `s004`: image: cannot"), "{card}");
}

#[test]
fn every_bad_input_is_reported_with_line_id_and_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    example::write(&src, 1, 1).unwrap();
    std::fs::write(src.join("broken.wav"), b"RIFF....WAVEjunk").unwrap();
    std::fs::write(src.join("empty.txt"), b"  \n").unwrap();
    std::fs::write(tmp.path().join("outside.png"), b"x").unwrap();
    let manifest = "\
id,label,image,audio,caption
a,low,images/s000.png,audio/s000.wav,fine
b,low,images/missing.png,,text
c,low,images/s000.png,broken.wav,text
d,low,images/s000.png,,\" \"
e,low,images/s000.png,,empty.txt
a,low,images/s000.png,,dup
f,purple,images/s000.png,,text
g,low,../outside.png,,text
h,low,images/s000.png
i,low,,,
";
    std::fs::write(src.join("m.csv"), manifest).unwrap();
    let schema = Schema::parse_toml(
        r#"classes = ["low", "mid", "high"]
[[modalities]]
name = "image"
kind = "image"
[[modalities]]
name = "audio"
kind = "audio"
sample_rate = 8000
[[modalities]]
name = "caption"
kind = "text"
"#,
    )
    .unwrap();
    let err = run(
        &src.join("m.csv"),
        &tmp.path().join("out"),
        Some(schema.clone()),
        false,
    )
    .unwrap_err();
    let message = err.to_string();
    let rows = bad_rows(err);
    let got: Vec<(usize, &str)> = rows.iter().map(|r| (r.line, r.id.as_str())).collect();
    assert_eq!(
        got,
        [
            (3, "b"),
            (4, "c"),
            (5, "d"),
            (6, "e"),
            (7, "a"),
            (8, "f"),
            (9, "g"),
            (10, "h"),
            (11, "i")
        ]
    );
    let reason = |line: usize| rows.iter().find(|r| r.line == line).unwrap().reason.clone();
    assert!(
        reason(3).contains("cannot open `images/missing.png`"),
        "{}",
        reason(3)
    );
    assert!(
        reason(4).contains("cannot decode audio `broken.wav`"),
        "{}",
        reason(4)
    );
    assert_eq!(reason(5), "caption: empty text");
    assert!(
        reason(6).contains("text file `empty.txt` is empty"),
        "{}",
        reason(6)
    );
    assert!(reason(7).contains("duplicate id `a`"), "{}", reason(7));
    assert!(
        reason(8).contains("unknown label `purple`"),
        "{}",
        reason(8)
    );
    assert!(
        reason(9).contains("outside the manifest's folder"),
        "{}",
        reason(9)
    );
    assert!(
        reason(10).contains("malformed row: 3 fields, the header has 5"),
        "{}",
        reason(10)
    );
    assert_eq!(reason(11), "no modality present");
    assert!(
        message.contains("9 bad row(s)") && message.contains("--skip-bad"),
        "{message}"
    );
    assert!(
        message.contains("line 8, id `f`: unknown label `purple`"),
        "{message}"
    );

    // With --skip-bad one good row is left: too few to give val and test a sample, which is
    // refused at import (it used to import and fail only when training found no val rows).
    let e = run(
        &src.join("m.csv"),
        &tmp.path().join("out"),
        Some(schema),
        true,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("train 1 (1 labelled), val 0 labelled, test 0 labelled"),
        "{e}"
    );
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn jsonl_with_feature_vectors_and_given_splits() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let values: Vec<f32> = (0..4 * 3).map(|v| v as f32).collect();
    write_npy_f32(&src.join("feats.npy"), 4, 3, &values);
    let lines = [
        r#"{"id": "x0", "label": "a", "split": "train", "emb": "feats.npy#0", "note": "first"}"#,
        r#"{"id": "x1", "label": "b", "split": "val", "emb": "feats.npy#1", "note": null}"#,
        r#"{"id": "x2", "label": "a", "split": "test", "emb": "feats.npy#2", "note": "third"}"#,
        r#"{"id": "x3", "label": "b", "split": "train", "emb": "feats.npy#3", "note": "fourth"}"#,
        r#"{"id": "x4", "label": "b", "split": "train", "emb": "feats.npy#9", "note": "bad row"}"#,
        r#"{"id": "x5", "label": "a", "split": "holdout", "emb": "feats.npy#0"}"#,
    ];
    std::fs::write(src.join("m.jsonl"), lines.join("\n")).unwrap();
    let out = tmp.path().join("ds");
    let rows = bad_rows(run(&src.join("m.jsonl"), &out, None, false).unwrap_err());
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0]
            .reason
            .contains("row 9 is out of range (file has 4 rows)"),
        "{:?}",
        rows[0]
    );
    assert!(
        rows[1].reason.contains("unknown split `holdout`"),
        "{:?}",
        rows[1]
    );
    run(&src.join("m.jsonl"), &out, None, true).unwrap();
    let data = store::load(&out, &StoreLoadConfig::default()).unwrap();
    assert_eq!(
        data.splits,
        [Split::Train, Split::Val, Split::Test, Split::Train]
    );
    let emb = data.modality_index("emb").unwrap();
    assert_eq!(data.modalities[emb].spec.shape, [3]);
    // Vectors are standardised per dimension on the train rows (x0 = 0,1,2 and x3 = 9,10,11).
    assert_eq!(data.modalities[emb].row(0), [-1.0, -1.0, -1.0]);
    assert_eq!(data.modalities[emb].row(3), [1.0, 1.0, 1.0]);
    let note = data.modality_index("note").unwrap();
    assert!(!data.modalities[note].present[1]);
}

#[test]
fn existing_output_and_unknown_format_are_refused() {
    let (tmp, src) = example_dir();
    let out = tmp.path().join("ds");
    std::fs::create_dir_all(&out).unwrap();
    let e = run(&src.join("manifest.csv"), &out, None, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("already exists"), "{e}");
    std::fs::write(src.join("m.tsv"), "id\n").unwrap();
    let e = run(&src.join("m.tsv"), &tmp.path().join("x"), None, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("use a .csv or .jsonl file"), "{e}");
    let e = store::load(&src, &StoreLoadConfig::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("polymodal data import"), "{e}");
}

#[test]
fn audio_at_any_rate_is_resampled_to_the_same_features() {
    // The same 440 Hz tone at 11025 Hz stereo and 22050 Hz mono gives nearly the same log-mel.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("a.wav"),
        polymodal_data::audio::wav_pcm16(&tone_440(11_025, 2, 1.0), 11_025, 2),
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("b.wav"),
        polymodal_data::audio::wav_pcm16(&tone_440(22_050, 1, 1.0), 22_050, 1),
    )
    .unwrap();
    let fe = front_end_8k();
    let root = tmp.path().canonicalize().unwrap();
    let a = fe.process(&root, "a.wav").unwrap();
    let b = fe.process(&root, "b.wav").unwrap();
    assert_eq!(a.len(), 32 * 32);
    // Compare where there is energy (within 5 nats ≈ 22 dB of the peak): the log of near-empty
    // bands only shows each resampler's noise floor.
    let peak = a.iter().copied().fold(f32::MIN, f32::max);
    let max_diff = a
        .iter()
        .zip(&b)
        .filter(|(x, _)| **x > peak - 5.0)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(
        max_diff < 0.05,
        "log-mel differs by {max_diff} where there is energy"
    );
    let argmax = |v: &[f32]| (0..v.len()).max_by(|&i, &j| v[i].total_cmp(&v[j])).unwrap() / 32;
    assert_eq!(argmax(&a), argmax(&b), "the tone's mel band differs");
}

/// FLAC, Ogg Vorbis and MP3 (committed fixtures, see tests/data/make_fixtures.sh) decode to the
/// same tone as a WAV written here; JPEG, BMP and WebP decode to the same picture as PNG.
#[test]
fn every_supported_file_format_decodes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for f in ["tone.flac", "tone.ogg", "tone.mp3"] {
        std::fs::copy(data.join(f), tmp.path().join(f)).unwrap();
    }
    std::fs::write(
        tmp.path().join("tone.wav"),
        polymodal_data::audio::wav_pcm16(&tone_440(22_050, 2, 0.3), 22_050, 2),
    )
    .unwrap();
    let fe = front_end_8k();
    let root = tmp.path().canonicalize().unwrap();
    let band = |v: &[f32]| {
        // The mel band with the most energy summed over frames.
        (0..32)
            .max_by(|&a, &b| {
                let e = |m: usize| v[m * 32..(m + 1) * 32].iter().map(|x| x.exp()).sum::<f32>();
                e(a).total_cmp(&e(b))
            })
            .unwrap()
    };
    let reference = band(&fe.process(&root, "tone.wav").unwrap());
    for f in ["tone.flac", "tone.ogg", "tone.mp3"] {
        let v = fe.process(&root, f).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(band(&v), reference, "{f}");
    }

    let mut img = image::RgbImage::new(16, 12);
    for (x, y, p) in img.enumerate_pixels_mut() {
        *p = image::Rgb([(x * 15) as u8, (y * 20) as u8, 128]);
    }
    for ext in ["png", "jpg", "bmp", "webp"] {
        img.save(tmp.path().join(format!("pic.{ext}"))).unwrap();
    }
    let png = polymodal_data::import::decode::image(&root, "pic.png", [8, 8], 3).unwrap();
    for ext in ["jpg", "bmp", "webp"] {
        let other =
            polymodal_data::import::decode::image(&root, &format!("pic.{ext}"), [8, 8], 3).unwrap();
        let max_diff = png
            .iter()
            .zip(&other)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        // JPEG is lossy; BMP and lossless WebP are exact.
        assert!(
            max_diff <= if ext == "jpg" { 16 } else { 0 },
            "{ext}: {max_diff}"
        );
    }
}
