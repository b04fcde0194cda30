//! Fuzzing the data layer's entry points with malformed input: manifests (CSV and JSONL),
//! schema TOML, media files (byte flips and truncations of real files) and dataset stores
//! (edited `dataset.json`, corrupted `values.safetensors`). Every case must end in a typed
//! error or a success; a panic fails the test (proptest catches it and shrinks the input).
//!
//! The runner is seeded (ChaCha, fixed seed), so every run throws the same cases: a failure
//! in CI reproduces locally. Case counts keep the whole file to a few seconds in release mode.

use polymodal_data::import::{decode, example, import, schema::Schema, ImportOptions};
use polymodal_data::store::{self, DataCard, StoreLoadConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Numbers the cases, so each writes its own files (the runner takes an `Fn` closure).
#[derive(Default)]
struct Counter(std::cell::Cell<usize>);

impl Counter {
    fn next(&self) -> usize {
        self.0.set(self.0.get() + 1);
        self.0.get()
    }
}

fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// The example folder (2 per class, 6 rows) shared by every case; cases only read from it.
fn example_src() -> &'static (tempfile::TempDir, PathBuf) {
    static SRC: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    SRC.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        example::write(&src, 2, 3).unwrap();
        std::fs::write(
            src.join("feats.npy"),
            example::npy_f32(2, 3, &[0., 1., 2., 3., 4., 5.]),
        )
        .unwrap();
        (tmp, src)
    })
}

fn import_into(manifest: &Path, out: &Path, schema: Option<Schema>) {
    let result = import(ImportOptions {
        manifest,
        schema,
        out,
        skip_bad: true,
        progress: &|_, _| {},
    });
    if result.is_err() {
        assert!(!out.exists(), "a failed import wrote {}", out.display());
    }
}

/// Fragments manifests are made of, good and bad.
const MANIFEST_PIECES: &[&str] = &[
    "id",
    "label",
    "split",
    "image",
    "audio",
    "caption",
    "emb",
    ",",
    ",",
    "\n",
    "\n",
    "\r\n",
    "\"",
    "\"\"",
    " ",
    "\u{feff}",
    "images/s000.png",
    "images/s001.png",
    "audio/s000.wav",
    "captions/s002.txt",
    "feats.npy#1",
    "feats.npy#9",
    "feats.npy",
    "x.png",
    "../x.png",
    "/etc/passwd",
    "train",
    "test",
    "val",
    "holdout",
    "low",
    "mid",
    "high",
    "a",
    "b",
    "é",
    "猫",
    "{",
    "}",
    ":",
    "[",
    "]",
    "null",
    "1",
    "-1",
    "1e999",
    "\"id\"",
    "\"label\"",
    "\"image\"",
    "\"images/s000.png\"",
    "{\"id\":\"q\",\"label\":\"low\",\"caption\":\"hi\"}",
    "s000",
    "s001",
    "#",
    "\u{0}",
];

fn manifest_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(MANIFEST_PIECES), 0..60)
        .prop_map(|pieces| pieces.concat())
}

#[test]
fn malformed_manifests_never_panic() {
    let (_keep, src) = example_src();
    let work = tempfile::tempdir_in(src).unwrap();
    let good = std::fs::read_to_string(src.join("manifest.csv")).unwrap();
    let counter = Counter::default();
    let strategy = (
        manifest_text(),
        any::<bool>(),
        0usize..good.len(),
        any::<bool>(),
    );
    runner(96)
        .run(&strategy, |(junk, jsonl, cut, splice)| {
            let n = counter.next();
            // Half the cases: random fragments. Half: the real manifest cut and spliced with them.
            let text = if splice {
                let cut = (0..=cut)
                    .rev()
                    .find(|&i| good.is_char_boundary(i))
                    .unwrap_or(0);
                format!("{}{junk}", &good[..cut])
            } else {
                junk
            };
            let name = format!("m{n}.{}", if jsonl { "jsonl" } else { "csv" });
            let manifest = work.path().join(&name);
            std::fs::write(&manifest, &text).unwrap();
            import_into(&manifest, &work.path().join(format!("out{n}")), None);
            Ok(())
        })
        .unwrap();
}

const SCHEMA_PIECES: &[&str] = &[
    "name",
    "id_column",
    "label_column",
    "split_column",
    "classes",
    "split_seed",
    "split_fractions",
    "text_model",
    "[[modalities]]",
    "kind",
    "column",
    "size",
    "channels",
    "sample_rate",
    "duration",
    "n_mels",
    "frames",
    "max_tokens",
    "dim",
    "=",
    " = ",
    "\n",
    "\"image\"",
    "\"audio\"",
    "\"text\"",
    "\"vector\"",
    "\"sequence\"",
    "\"caption\"",
    "\"id\"",
    "0",
    "1",
    "3",
    "-1",
    "4096",
    "100000",
    "18446744073709551615",
    "1e400",
    "nan",
    "inf",
    "0.5",
    "[32, 32]",
    "[0.8, 0.1, 0.1]",
    "[1.0, 0.0, 0.0]",
    "[\"low\", \"mid\", \"high\"]",
    "[]",
    "{}",
    "true",
    "'",
    "\"",
];

#[test]
fn malformed_schemas_never_panic() {
    let (_keep, src) = example_src();
    let work = tempfile::tempdir_in(src).unwrap();
    let counter = Counter::default();
    let strategy = prop::collection::vec(prop::sample::select(SCHEMA_PIECES), 0..40);
    runner(256)
        .run(&strategy, |pieces| {
            let text = pieces.concat();
            let Ok(schema) = Schema::parse_toml(&text) else {
                return Ok(());
            };
            if schema.check().is_ok() {
                let n = counter.next();
                import_into(
                    &src.join("manifest.csv"),
                    &work.path().join(format!("out{n}")),
                    Some(schema),
                );
            }
            Ok(())
        })
        .unwrap();
    // A structured pass: a valid schema with one key set to an arbitrary number.
    const KEYS: &[(&str, &str, bool)] = &[
        ("image", "size", true),
        ("image", "channels", false),
        ("audio", "sample_rate", false),
        ("audio", "n_mels", false),
        ("audio", "frames", false),
        ("text", "max_tokens", false),
        ("vector", "dim", false),
    ];
    let strategy = (prop::sample::select(KEYS), any::<u64>());
    runner(128)
        .run(&strategy, |((kind, key, pair), v)| {
            let v = v % (1 << 40);
            let value = if pair {
                format!("[{v}, {v}]")
            } else {
                v.to_string()
            };
            let text =
                format!("[[modalities]]\nname = \"m\"\nkind = \"{kind}\"\n{key} = {value}\n");
            let schema = Schema::parse_toml(&text).unwrap();
            // In bounds: accepted; out of bounds: an error naming the key.
            if let Err(e) = schema.check() {
                prop_assert!(e.to_string().contains(key), "{e}");
            }
            Ok(())
        })
        .unwrap();
}

/// Media files to mutate: the committed compressed-audio fixtures, a WAV, and one image per
/// supported format.
fn media() -> Vec<(String, Vec<u8>)> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut files: Vec<(String, Vec<u8>)> = ["tone.flac", "tone.ogg", "tone.mp3"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(data.join(f)).unwrap()))
        .collect();
    let samples: Vec<i16> = (0..2000).map(|t| ((t * 37) % 2000) as i16 * 8).collect();
    files.push((
        "tone.wav".into(),
        polymodal_data::audio::wav_pcm16(&samples, 8000, 2),
    ));
    let mut img = image::RgbImage::new(12, 10);
    for (x, y, p) in img.enumerate_pixels_mut() {
        *p = image::Rgb([(x * 20) as u8, (y * 25) as u8, 99]);
    }
    for (ext, fmt) in [
        ("png", image::ImageFormat::Png),
        ("jpg", image::ImageFormat::Jpeg),
        ("bmp", image::ImageFormat::Bmp),
        ("webp", image::ImageFormat::WebP),
    ] {
        let mut bytes = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut bytes), fmt)
            .unwrap();
        files.push((format!("pic.{ext}"), bytes));
    }
    files
}

#[test]
fn mutated_media_files_never_panic() {
    let files = media();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let schema = Schema::parse_toml(
        "[[modalities]]\nname = \"snd\"\nkind = \"audio\"\nsample_rate = 8000\nduration = 0.25\n",
    )
    .unwrap();
    let fe = decode::AudioFrontEnd::new(&schema.modalities[0]);
    // Every original decodes; the mutations below are what must not crash.
    for (name, bytes) in &files {
        std::fs::write(root.join(name), bytes).unwrap();
        if name.starts_with("pic") {
            decode::image(&root, name, [8, 8], 3).unwrap();
        } else {
            fe.process(&root, name).unwrap();
        }
    }
    let (caught, counter) = (Counter::default(), Counter::default());
    let strategy = (
        0..files.len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        prop::option::of(any::<prop::sample::Index>()),
    );
    runner(800)
        .run(&strategy, |(which, flips, truncate)| {
            let n = counter.next();
            let (name, original) = &files[which];
            let mut bytes = original.clone();
            for (at, b) in flips {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            if let Some(t) = truncate {
                bytes.truncate(t.index(bytes.len()));
            }
            let ext = name.rsplit('.').next().unwrap();
            let rel = format!("case{n}.{ext}");
            std::fs::write(root.join(&rel), &bytes).unwrap();
            // Exactly as the import calls them: through the panic guard.
            let result = if name.starts_with("pic") {
                decode::guarded(&rel, || decode::image(&root, &rel, [8, 8], 3).map(drop))
            } else {
                decode::guarded(&rel, || fe.process(&root, &rel).map(drop))
            };
            if let Err(e) = result {
                prop_assert!(e.0.contains(&rel), "the error names the file: {e}");
                if e.0.contains("the decoder crashed") {
                    caught.next();
                }
            }
            std::fs::remove_file(root.join(&rel)).unwrap();
            Ok(())
        })
        .unwrap();
    // Not an assertion: how often the last-resort guard (not a header check) was needed.
    eprintln!(
        "{} of {} mutated files panicked inside a decoder library and were caught",
        caught.0.get(),
        counter.0.get()
    );
}

/// One imported dataset directory, copied for each case.
fn imported_store() -> &'static (tempfile::TempDir, PathBuf) {
    static STORE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    STORE.get_or_init(|| {
        let (_keep, src) = example_src();
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("ds");
        import(ImportOptions {
            manifest: &src.join("manifest.csv"),
            schema: None,
            out: &out,
            skip_bad: false,
            progress: &|_, _| {},
        })
        .unwrap();
        (tmp, out)
    })
}

fn copy_store(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Loads a store every way a command does; true if it loaded.
fn load_all_ways(dir: &Path) -> bool {
    let loaded = store::load(dir, &StoreLoadConfig::default());
    let _ = store::read_texts(dir);
    // `polymodal data inspect` builds the card from whatever `dataset.json` parses to.
    if let Ok(meta) = store::read_meta(dir) {
        let _ = DataCard::from_meta(&meta).to_markdown();
    }
    loaded.is_ok()
}

/// A JSON value to plant somewhere in `dataset.json`.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(Into::into),
        any::<u64>().prop_map(Into::into),
        (0u64..40).prop_map(Into::into),
        prop::sample::select(&["train", "val", "test", "x", "", "u8", "f32", "text", "image"][..])
            .prop_map(Into::into),
        prop::collection::vec(0u64..100, 0..5).prop_map(Into::into),
        prop::collection::vec(any::<u64>(), 0..3).prop_map(Into::into),
    ]
}

const META_PATHS: &[&str] = &[
    "/ids",
    "/ids/0",
    "/ids/3",
    "/labels",
    "/labels/0",
    "/labels/5",
    "/splits",
    "/splits/1",
    "/class_names",
    "/class_names/0",
    "/modalities/0/spec/shape",
    "/modalities/0/spec/shape/1",
    "/modalities/1/spec/shape",
    "/modalities/2/spec/shape/0",
    "/modalities/0/storage",
    "/modalities/2/storage",
    "/modalities/1/spec/kind",
    "/modalities/0/present",
    "/modalities/0/spec/name",
    "/modalities",
    "/format",
    "/content_sha256",
];

#[test]
fn mutated_dataset_stores_never_panic() {
    let (_keep, good) = imported_store();
    let work = tempfile::tempdir().unwrap();
    let meta_bytes = std::fs::read(good.join(store::META_FILE)).unwrap();
    let loaded = Counter::default();
    let values_bytes = std::fs::read(good.join(store::VALUES_FILE)).unwrap();
    let texts_bytes = std::fs::read(good.join(store::TEXTS_FILE)).unwrap();
    let counter = Counter::default();

    // dataset.json: a value replaced at a known path, or the file truncated.
    let strategy = (
        prop::sample::select(META_PATHS),
        json_value(),
        prop::option::of(any::<prop::sample::Index>()),
    );
    runner(300)
        .run(&strategy, |(path, value, truncate)| {
            let n = counter.next();
            let dir = work.path().join(format!("m{n}"));
            copy_store(good, &dir);
            let mut meta: serde_json::Value = serde_json::from_slice(&meta_bytes).unwrap();
            if let Some(slot) = meta.pointer_mut(path) {
                *slot = value;
            }
            let mut bytes = serde_json::to_vec(&meta).unwrap();
            if let Some(t) = truncate {
                bytes.truncate(t.index(bytes.len()));
            }
            std::fs::write(dir.join(store::META_FILE), bytes).unwrap();
            if load_all_ways(&dir) {
                loaded.next();
            }
            std::fs::remove_dir_all(&dir).unwrap();
            Ok(())
        })
        .unwrap();

    // values.safetensors and texts.json: byte flips and truncation, with the content hash
    // recorded to match, so the loader gets past the hash check into parsing and shape checks.
    let strategy = (
        any::<bool>(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        prop::option::of(any::<prop::sample::Index>()),
    );
    runner(300)
        .run(&strategy, |(values, flips, truncate)| {
            let n = counter.next();
            let dir = work.path().join(format!("v{n}"));
            copy_store(good, &dir);
            let mut v = values_bytes.clone();
            let mut t = texts_bytes.clone();
            let target = if values { &mut v } else { &mut t };
            // Flips land mostly in the header, where the structure is.
            let head = target.len().min(400);
            for (at, b) in flips {
                let i = at.index(head);
                target[i] = b;
            }
            if let Some(cut) = truncate {
                let len = target.len();
                target.truncate(cut.index(len));
            }
            std::fs::write(dir.join(store::VALUES_FILE), &v).unwrap();
            std::fs::write(dir.join(store::TEXTS_FILE), &t).unwrap();
            let mut h = <sha2::Sha256 as sha2::Digest>::new();
            sha2::Digest::update(&mut h, &v);
            sha2::Digest::update(&mut h, &t);
            let mut meta: serde_json::Value = serde_json::from_slice(&meta_bytes).unwrap();
            meta["content_sha256"] = format!("{:x}", sha2::Digest::finalize(h)).into();
            std::fs::write(
                dir.join(store::META_FILE),
                serde_json::to_vec(&meta).unwrap(),
            )
            .unwrap();
            if load_all_ways(&dir) {
                loaded.next();
            }
            std::fs::remove_dir_all(&dir).unwrap();
            Ok(())
        })
        .unwrap();
    // Not an assertion: how many mutations were harmless enough to load.
    eprintln!(
        "{} of {} mutated stores loaded; the rest were refused with an error",
        loaded.0.get(),
        counter.0.get()
    );
}
