//! Hostile and hand-made input: every case is refused with a message that names the file, line,
//! id or key, and none of them panics, hangs or runs out of memory.

use polymodal_core::Split;
use polymodal_data::import::{
    decode, example, import,
    schema::{Schema, SchemaError},
    BadRow, ImportError, ImportOptions,
};
use polymodal_data::store::{self, StoreLoadConfig};
use polymodal_data::DataError;
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

fn bad_rows(e: ImportError) -> Vec<BadRow> {
    match e {
        ImportError::BadRows { rows, .. } => rows,
        other => panic!("expected bad rows, got {other}"),
    }
}

/// A folder with `n` labelled rows of three classes (PNG, WAV, caption) and `manifest.csv`.
fn example_dir(per_class: usize) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    example::write(&src, per_class, 7).unwrap();
    (tmp, src)
}

/// A 0.5 s mono 16-bit WAV at 8 kHz whose header then claims `rate` Hz and `channels` channels.
fn wav_claiming(rate: u32, channels: u16) -> Vec<u8> {
    let samples: Vec<i16> = (0..4000).map(|t| ((t % 40) * 500) as i16).collect();
    let mut b = polymodal_data::audio::wav_pcm16(&samples, 8000, 1);
    b[22..24].copy_from_slice(&channels.to_le_bytes());
    b[24..28].copy_from_slice(&rate.to_le_bytes());
    b
}

/// A valid 8x8 PNG whose IHDR then claims `w` x `h` pixels (CRC fixed up so the lie is read).
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::GrayImage::new(8, 8)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    // signature (8) + length (4) + "IHDR" (4) + width (4) + height (4) ... + CRC over type+data
    bytes[16..20].copy_from_slice(&w.to_be_bytes());
    bytes[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn hostile_media_headers_become_bad_rows_and_skip_bad_skips_them() {
    let (tmp, src) = example_dir(4);
    let files: [(&str, Vec<u8>); 7] = [
        ("rate0.wav", wav_claiming(0, 1)),
        ("ratemax.wav", wav_claiming(u32::MAX, 1)),
        ("chan.wav", wav_claiming(8000, 1000)),
        ("trunc.wav", wav_claiming(8000, 1)[..30].to_vec()),
        ("huge.png", png_claiming(100_000, 100_000)),
        ("wide.png", png_claiming(u32::MAX, 1)),
        ("trunc.png", png_claiming(8, 8)[..40].to_vec()),
    ];
    for (name, bytes) in &files {
        std::fs::write(src.join(name), bytes).unwrap();
    }
    let mut manifest = std::fs::read_to_string(src.join("manifest.csv")).unwrap();
    manifest += "\
x1,low,images/s000.png,rate0.wav,a
x2,low,images/s000.png,ratemax.wav,a
x3,low,images/s000.png,chan.wav,a
x4,low,images/s000.png,trunc.wav,a
x5,low,huge.png,,a
x6,low,wide.png,,a
x7,low,trunc.png,,a
";
    std::fs::write(src.join("m.csv"), &manifest).unwrap();
    let out = tmp.path().join("ds");
    let rows = bad_rows(run(&src.join("m.csv"), &out, None, false).unwrap_err());
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["x1", "x2", "x3", "x4", "x5", "x6", "x7"], "{rows:?}");
    let reason = |id: &str| rows.iter().find(|r| r.id == id).unwrap().reason.clone();
    assert!(
        reason("x1").contains("rate0.wav") && reason("x1").contains("sample rate of 0 Hz"),
        "{}",
        reason("x1")
    );
    assert!(
        reason("x2").contains("sample rate of 4294967295 Hz"),
        "{}",
        reason("x2")
    );
    assert!(reason("x3").contains("1000 channels"), "{}", reason("x3"));
    assert!(
        reason("x4").contains("cannot decode audio `trunc.wav`"),
        "{}",
        reason("x4")
    );
    for id in ["x5", "x6", "x7"] {
        assert!(
            reason(id).starts_with("image: cannot") && reason(id).contains(".png"),
            "{id}: {}",
            reason(id)
        );
    }
    assert!(!out.exists());

    let report = run(&src.join("m.csv"), &out, None, true).unwrap();
    assert_eq!(report.samples, 12);
    assert_eq!(report.skipped.len(), 7);
    let card = std::fs::read_to_string(out.join(store::CARD_MD)).unwrap();
    assert!(
        card.contains("id `x1`: audio: cannot decode audio `rate0.wav`"),
        "{card}"
    );
}

#[test]
fn a_panic_inside_a_decoder_is_that_cells_error() {
    let e = decode::guarded::<()>("boom.wav", || panic!("index out of bounds"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the decoder crashed on `boom.wav`") && e.contains("index out of bounds"),
        "{e}"
    );
    let e = decode::guarded::<()>("x.png", || std::panic::panic_any(42u8))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown cause"), "{e}");
    assert_eq!(decode::guarded("ok", || Ok(3)), Ok(3));
}

#[test]
fn wav_header_is_read_before_decoding() {
    assert_eq!(
        decode::wav_header(&wav_claiming(44_100, 2)),
        Some((44_100, 2))
    );
    assert_eq!(decode::wav_header(b"RIFF"), None);
    assert_eq!(decode::wav_header(b"not a wav at all"), None);
    // A chunk length pointing far past the end stops the walk instead of overflowing.
    let mut b = wav_claiming(8000, 1);
    b[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    b[12..16].copy_from_slice(b"junk");
    assert_eq!(decode::wav_header(&b), None);
}

/// Decoding stops once the kept window (plus a resampler margin) is decoded, and the features
/// are exactly those of decoding the whole file.
#[test]
fn long_audio_is_decoded_only_as_far_as_needed_with_identical_features() {
    let tmp = tempfile::tempdir().unwrap();
    let tone = |seconds: f32| -> Vec<i16> {
        (0..(11_025.0 * seconds) as usize)
            .map(|t| {
                ((std::f32::consts::TAU * 440.0 * t as f32 / 11_025.0).sin() * 16_000.0) as i16
            })
            .collect()
    };
    std::fs::write(
        tmp.path().join("short.wav"),
        polymodal_data::audio::wav_pcm16(&tone(1.6), 11_025, 1),
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("long.wav"),
        polymodal_data::audio::wav_pcm16(&tone(30.0), 11_025, 1),
    )
    .unwrap();
    let schema = Schema::parse_toml(
        "[[modalities]]\nname = \"snd\"\nkind = \"audio\"\nsample_rate = 8000\n",
    )
    .unwrap();
    let fe = decode::AudioFrontEnd::new(&schema.modalities[0]);
    let root = tmp.path().canonicalize().unwrap();
    let short = fe.process(&root, "short.wav").unwrap();
    let long = fe.process(&root, "long.wav").unwrap();
    assert_eq!(short, long);
}

#[test]
fn schema_bounds_name_the_key_and_the_bound() {
    let cases = [
        (
            "kind = \"audio\"\nn_mels = 100000",
            "n_mels = 100000 is outside 1..=512",
        ),
        (
            "kind = \"audio\"\nframes = 1000000",
            "frames = 1000000 is outside 4..=4096",
        ),
        (
            "kind = \"audio\"\nsample_rate = 1920000",
            "sample_rate = 1920000 is outside 1000..=192000 Hz",
        ),
        (
            "kind = \"audio\"\nduration = 3600.0",
            "duration = 3600 is outside (0, 60] seconds",
        ),
        (
            "kind = \"image\"\nsize = [32, 32000]",
            "size = [32, 32000] is outside 4..=512 per side",
        ),
        (
            "kind = \"text\"\nmax_tokens = 640000",
            "max_tokens = 640000 is outside 1..=4096",
        ),
        (
            "kind = \"vector\"\ndim = 10000000",
            "dim = 10000000 is outside 1..=65536",
        ),
        ("kind = \"vector\"\ndim = 0", "dim = 0 is outside 1..=65536"),
    ];
    for (body, want) in cases {
        let s = Schema::parse_toml(&format!("[[modalities]]\nname = \"m\"\n{body}\n")).unwrap();
        let e = s.check().unwrap_err();
        assert!(matches!(e, SchemaError::OutOfBounds { .. }), "{e:?}");
        assert_eq!(e.to_string(), format!("modality `m`: {want}"));
    }
    let e = Schema::parse_toml(
        "split_fractions = [0.8, nan, 0.1]\n[[modalities]]\nname = \"m\"\nkind = \"text\"\n",
    )
    .unwrap()
    .check()
    .unwrap_err()
    .to_string();
    assert!(e.contains("split_fractions"), "{e}");
    let e = Schema::parse_toml("classes = [\"a\", \"a\"]\n")
        .unwrap()
        .check()
        .unwrap_err()
        .to_string();
    assert!(e.contains("`a` is empty or listed twice"), "{e}");
    let e = Schema::parse_toml("[[modalities]]\nname = 3")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("key `modalities[0].name`"), "{e}");
    let e = Schema::parse_toml("[[modalities]\n")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("malformed TOML"), "{e}");

    // The import refuses a bad schema before reading the manifest (which does not even exist).
    let tmp = tempfile::tempdir().unwrap();
    let s = Schema::parse_toml("[[modalities]]\nname = \"m\"\nkind = \"audio\"\nn_mels = 100000\n")
        .unwrap();
    let e = run(
        &tmp.path().join("nope.csv"),
        &tmp.path().join("o"),
        Some(s),
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("schema: modality `m`: n_mels = 100000"), "{e}");
}

/// Imports a 3-class, 4-per-class example and returns (tempdir, dataset dir).
fn imported() -> (tempfile::TempDir, PathBuf) {
    let (tmp, src) = example_dir(4);
    let out = tmp.path().join("ds");
    run(&src.join("manifest.csv"), &out, None, false).unwrap();
    (tmp, out)
}

fn edit_meta(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join(store::META_FILE);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
}

fn load_err(dir: &Path) -> String {
    store::load(dir, &StoreLoadConfig::default())
        .unwrap_err()
        .to_string()
}

#[test]
fn hand_edited_dataset_directories_are_refused_with_the_reason() {
    type Edit = fn(&mut serde_json::Value);
    let cases: [(Edit, &str); 9] = [
        (
            |v| {
                v["labels"].as_array_mut().unwrap().pop();
            },
            "11 labels for 12 ids",
        ),
        (
            |v| {
                v["splits"].as_array_mut().unwrap().push("train".into());
            },
            "13 splits for 12 ids",
        ),
        (
            |v| v["labels"][2] = 7.into(),
            "sample s002 has label 7, but there are 3 classes",
        ),
        (
            |v| v["modalities"][0]["spec"]["shape"] = serde_json::json!([]),
            "modality `image` has the empty shape []",
        ),
        (
            |v| v["modalities"][0]["spec"]["shape"] = serde_json::json!([3, 0, 32]),
            "modality `image` has the empty shape [3, 0, 32]",
        ),
        (
            |v| v["modalities"][2]["spec"]["shape"] = serde_json::json!([1u64 << 40]),
            "above the limit of",
        ),
        (
            |v| v["splits"][0] = "holdout".into(),
            "unknown variant `holdout`",
        ),
        (
            |v| v["ids"][1] = "s000".into(),
            "id `s000` is empty or appears twice",
        ),
        (
            |v| v["modalities"][1]["spec"]["shape"] = serde_json::json!([1, 16, 64]),
            "tensor `audio`: F32 [12, 1, 32, 32], expected F32 [12, 1, 16, 64]",
        ),
    ];
    for (i, (edit, want)) in cases.into_iter().enumerate() {
        let (_tmp, dir) = imported();
        edit_meta(&dir, edit);
        let e = load_err(&dir);
        assert!(e.contains(want), "case {i}: {e}");
        assert!(
            e.contains(dir.to_str().unwrap()),
            "case {i} names the directory: {e}"
        );
    }

    // Truncated or invalid JSON.
    let (_tmp, dir) = imported();
    let p = dir.join(store::META_FILE);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_err(&dir);
    assert!(
        e.contains("dataset.json: not a valid dataset store: EOF"),
        "{e}"
    );

    // A truncated or altered values file no longer matches the recorded content hash.
    let (_tmp, dir) = imported();
    let p = dir.join(store::VALUES_FILE);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 100]).unwrap();
    let e = load_err(&dir);
    assert!(
        e.contains("values.safetensors or texts.json changed after import"),
        "{e}"
    );
}

#[test]
fn wrong_tensor_dtype_is_refused_by_name() {
    let (_tmp, dir) = imported();
    // Rewrite values.safetensors with `image` as F32 of the same element count, and record the
    // new content hash, as a careless hand edit with a script would.
    let p = dir.join(store::VALUES_FILE);
    let bytes = std::fs::read(&p).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, t) in st.tensors() {
        if name == "image" {
            let data: Vec<u8> = t
                .data()
                .iter()
                .flat_map(|&b| f32::from(b).to_le_bytes())
                .collect();
            owned.push((name, safetensors::Dtype::F32, t.shape().to_vec(), data));
        } else {
            owned.push((name, t.dtype(), t.shape().to_vec(), t.data().to_vec()));
        }
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = owned
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    let new = safetensors::serialize(views, None).unwrap();
    std::fs::write(&p, &new).unwrap();
    let texts = std::fs::read(dir.join(store::TEXTS_FILE)).unwrap();
    let mut h = <sha2::Sha256 as sha2::Digest>::new();
    sha2::Digest::update(&mut h, &new);
    sha2::Digest::update(&mut h, &texts);
    let sha = format!("{:x}", sha2::Digest::finalize(h));
    edit_meta(&dir, |v| v["content_sha256"] = sha.into());
    let e = load_err(&dir);
    assert!(
        e.contains("tensor `image`: F32 [12, 3, 32, 32], expected U8 [12, 3, 32, 32]"),
        "{e}"
    );
}

#[test]
fn fingerprint_covers_labels_and_splits() {
    let (_tmp, dir) = imported();
    let load = || store::load(&dir, &StoreLoadConfig::default()).unwrap();
    let before = load().fingerprint;
    assert_eq!(
        load().fingerprint,
        before,
        "same directory, same fingerprint"
    );
    edit_meta(&dir, |v| v["labels"][0] = 2.into());
    let relabelled = load().fingerprint;
    assert_ne!(
        relabelled, before,
        "a relabelled dataset is a different dataset"
    );
    edit_meta(&dir, |v| {
        let s = v["splits"][0].as_str().unwrap().to_string();
        v["splits"][0] = if s == "test" { "train" } else { "test" }.into();
    });
    assert_ne!(load().fingerprint, relabelled, "a re-split dataset too");
}

#[test]
fn stale_imports_of_dead_processes_are_cleaned_and_live_ones_kept() {
    let (tmp, src) = example_dir(2);
    // A pid above Linux's maximum (2^22) cannot be alive.
    let dead = tmp
        .path()
        .join(format!("{}4194305-abc123", store::TEMP_PREFIX));
    let live = tmp.path().join(format!(
        "{}{}-def456",
        store::TEMP_PREFIX,
        std::process::id()
    ));
    for d in [&dead, &live] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join(store::VALUES_FILE), b"half").unwrap();
    }
    let report = run(
        &src.join("manifest.csv"),
        &tmp.path().join("ds"),
        None,
        false,
    )
    .unwrap();
    if Path::new("/proc/self").exists() {
        assert_eq!(report.cleaned, std::slice::from_ref(&dead));
        assert!(!dead.exists());
    }
    assert!(live.exists(), "a running import's folder is left alone");
    // The import's own temporary folder is gone after the rename.
    let temps: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(store::TEMP_PREFIX)
        })
        .map(|e| e.path())
        .collect();
    assert_eq!(temps, [live]);
}

#[test]
fn train_test_only_manifest_gets_a_carved_validation_split() {
    let (tmp, src) = example_dir(10);
    let text = std::fs::read_to_string(src.join("manifest.csv")).unwrap();
    let mut lines = text.lines();
    let mut m = format!("{},split\n", lines.next().unwrap());
    for (i, l) in lines.enumerate() {
        m += &format!("{l},{}\n", if i % 5 == 0 { "test" } else { "train" });
    }
    std::fs::write(src.join("tt.csv"), m).unwrap();
    let out = tmp.path().join("ds");
    run(&src.join("tt.csv"), &out, None, false).unwrap();
    let meta = store::read_meta(&out).unwrap();
    let count = |s: Split| meta.splits.iter().filter(|&&x| x == s).count();
    assert_eq!(count(Split::Test), 6, "the given test rows are kept");
    // 24 train rows, val share 0.1 / 0.9: round(8 * 0.111) = 1 per class.
    assert_eq!(count(Split::Val), 3);
    assert_eq!(count(Split::Train), 21);
    for c in 0..3 {
        assert!(
            (0..meta.ids.len()).any(|i| meta.splits[i] == Split::Val && meta.labels[i] == Some(c)),
            "val is stratified: class {c}"
        );
    }
    assert!(
        meta.split_source
            .contains("3 val samples were carved from the labelled train rows"),
        "{}",
        meta.split_source
    );
    let card = std::fs::read_to_string(out.join(store::CARD_MD)).unwrap();
    assert!(
        card.contains("carved from the labelled train rows (stratified by class, seed 0"),
        "{card}"
    );
    // Seeded: the same manifest gives the same split.
    let again = tmp.path().join("ds2");
    run(&src.join("tt.csv"), &again, None, false).unwrap();
    assert_eq!(store::read_meta(&again).unwrap().splits, meta.splits);
}

#[test]
fn a_set_too_small_for_every_split_is_an_error_at_import_naming_counts() {
    let (tmp, src) = example_dir(1);
    // Two labelled rows: rounding gives val and test nothing, and one row cannot be spared.
    std::fs::write(src.join("two.csv"), "id,label,caption\na,x,one\nb,y,two\n").unwrap();
    let e = run(&src.join("two.csv"), &tmp.path().join("ds"), None, false).unwrap_err();
    assert!(matches!(e, ImportError::TooFewForSplits { .. }), "{e}");
    let e = e.to_string();
    assert!(
        e.contains("too few labelled samples to give every split one: train 2 (2 labelled), val 0 labelled, test 0 labelled"),
        "{e}"
    );
    // One sample in each of three classes: the split keeps every class in train.
    let e = run(
        &src.join("manifest.csv"),
        &tmp.path().join("ds"),
        None,
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("train 3 (3 labelled), val 0 labelled, test 0 labelled"),
        "{e}"
    );
    // Two per class is enough: one class gives val a sample, another gives test one.
    let (tmp2, src2) = example_dir(2);
    run(
        &src2.join("manifest.csv"),
        &tmp2.path().join("ok"),
        None,
        false,
    )
    .unwrap();
    // Three rows with explicit splits but no test row.
    std::fs::write(
        src.join("m.csv"),
        "id,label,split,caption\na,x,train,one\nb,y,train,two\nc,x,val,three\n",
    )
    .unwrap();
    let e = run(&src.join("m.csv"), &tmp.path().join("ds"), None, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("train 2 (2 labelled), val 1 labelled, test 0 labelled"),
        "{e}"
    );
    assert!(!tmp.path().join("ds").exists());
}

#[test]
fn bom_manifests_keep_their_first_row() {
    let (tmp, src) = example_dir(2);
    let csv = std::fs::read_to_string(src.join("manifest.csv")).unwrap();
    std::fs::write(src.join("bom.csv"), format!("\u{feff}{csv}")).unwrap();
    let r = run(&src.join("bom.csv"), &tmp.path().join("a"), None, false).unwrap();
    assert_eq!(r.samples, 6);
    assert_eq!(
        store::read_meta(&tmp.path().join("a")).unwrap().ids[0],
        "s000"
    );

    let jsonl = "\u{feff}{\"id\":\"j0\",\"label\":\"x\",\"t\":\"one\"}\n{\"id\":\"j1\",\"label\":\"y\",\"t\":\"two\"}\n{\"id\":\"j2\",\"label\":\"x\",\"t\":\"three\"}\n{\"id\":\"j3\",\"label\":\"y\",\"t\":\"four\"}\n";
    std::fs::write(src.join("bom.jsonl"), jsonl).unwrap();
    let r = run(&src.join("bom.jsonl"), &tmp.path().join("b"), None, false).unwrap();
    assert_eq!(r.samples, 4);
    assert_eq!(
        store::read_meta(&tmp.path().join("b")).unwrap().ids[0],
        "j0"
    );
}

#[test]
fn media_paths_with_spaces_are_still_media_and_missing_ones_are_bad_rows() {
    let (tmp, src) = example_dir(2);
    std::fs::create_dir_all(src.join("my photos")).unwrap();
    std::fs::create_dir_all(src.join("my notes")).unwrap();
    let text = std::fs::read_to_string(src.join("manifest.csv")).unwrap();
    let mut m = String::from("id,label,photo,note\n");
    for (i, l) in text.lines().skip(1).enumerate() {
        let f: Vec<&str> = l.split(',').collect();
        let spaced = format!("my photos/pic {i}.png");
        std::fs::copy(src.join(f[2]), src.join(&spaced)).unwrap();
        std::fs::write(
            src.join(format!("my notes/note {i}.txt")),
            format!("note {i}"),
        )
        .unwrap();
        m += &format!("{},{},{spaced},my notes/note {i}.txt\n", f[0], f[1]);
    }
    std::fs::write(src.join("sp.csv"), &m).unwrap();
    run(&src.join("sp.csv"), &tmp.path().join("ds"), None, false).unwrap();
    let meta = store::read_meta(&tmp.path().join("ds")).unwrap();
    assert_eq!(
        meta.modalities[0].spec.kind,
        polymodal_core::ModalityKind::Image
    );
    let texts = store::read_texts(&tmp.path().join("ds")).unwrap();
    assert_eq!(
        texts["note"][0].as_deref(),
        Some("note 0"),
        "a .txt path with spaces is read"
    );

    // One photo path that does not exist: a bad row, not a text column.
    m += "zz,low,my photos/gone 9.png,hello\n";
    std::fs::write(src.join("sp2.csv"), &m).unwrap();
    let rows =
        bad_rows(run(&src.join("sp2.csv"), &tmp.path().join("ds2"), None, false).unwrap_err());
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0]
            .reason
            .contains("cannot open `my photos/gone 9.png`"),
        "{:?}",
        rows[0]
    );
}

#[test]
fn partially_labelled_sets_keep_the_pool_in_train_and_refuse_unlabelled_test_rows() {
    let (tmp, src) = example_dir(6);
    let text = std::fs::read_to_string(src.join("manifest.csv")).unwrap();
    // Hide every second label.
    let mut m = String::from("id,label,image,audio,caption\n");
    for (i, l) in text.lines().skip(1).enumerate() {
        let mut f: Vec<String> = l.splitn(3, ',').map(str::to_string).collect();
        if i % 2 == 1 {
            f[1].clear();
        }
        m += &(f.join(",") + "\n");
    }
    std::fs::write(src.join("p.csv"), &m).unwrap();
    let out = tmp.path().join("ds");
    run(&src.join("p.csv"), &out, None, false).unwrap();
    let data = store::load(&out, &StoreLoadConfig::default()).unwrap();
    let pool = data.unlabelled_indices();
    assert_eq!(pool.len(), 9);
    assert!(
        pool.iter().all(|&i| data.splits[i] == Split::Train),
        "the pool is in train"
    );
    for s in Split::ALL {
        let li = data.labelled_indices(s);
        assert!(!li.is_empty(), "{s} has labelled samples");
        assert!(li
            .iter()
            .all(|&i| data.splits[i] == s && data.labels[i].is_some()));
    }
    assert_eq!(
        data.labelled_indices(Split::Train).len()
            + data.labelled_indices(Split::Val).len()
            + data.labelled_indices(Split::Test).len(),
        9
    );
    let card = store::DataCard::from_meta(&store::read_meta(&out).unwrap());
    let train = &card.splits[0];
    assert_eq!((train.split, train.unlabelled), (Split::Train, 9));
    assert_eq!(card.splits[1].unlabelled + card.splits[2].unlabelled, 0);
    let md = card.to_markdown();
    assert!(md.contains("18 samples (9 unlabelled), 3 classes"), "{md}");
    assert!(
        md.contains(&format!(
            "| train | {} | 9 | {} |",
            train.labelled,
            train.labelled + 9
        )),
        "{md}"
    );

    // An unlabelled row explicitly in val or test is a bad row with the reason.
    std::fs::write(
        src.join("q.csv"),
        "id,label,split,caption\na,x,train,one\nb,,test,two\nc,,val,three\nd,,,four\n",
    )
    .unwrap();
    let rows = bad_rows(run(&src.join("q.csv"), &tmp.path().join("q"), None, false).unwrap_err());
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.id.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("b", "test rows must be labelled; leave the split empty to put an unlabelled row in the pool"),
            ("c", "val rows must be labelled; leave the split empty to put an unlabelled row in the pool"),
        ]
    );
}

#[test]
fn dataset_validate_names_the_broken_invariant() {
    let (_tmp, dir) = imported();
    let good = store::load(&dir, &StoreLoadConfig::default()).unwrap();
    good.validate().unwrap();
    let check = |f: &dyn Fn(&mut polymodal_data::Dataset), want: &str| {
        let mut d = good.clone();
        f(&mut d);
        let e = d.validate().unwrap_err();
        assert!(matches!(e, DataError::Invalid { .. }), "{e:?}");
        assert!(e.to_string().contains(want), "{e}");
    };
    check(&|d| d.labels.truncate(3), "3 labels for 12 ids");
    check(&|d| d.splits.push(Split::Test), "13 splits for 12 ids");
    check(
        &|d| d.labels[0] = Some(9),
        "sample s000 has label 9, but there are 3 classes",
    );
    check(&|d| d.ids[1] = d.ids[0].clone(), "id `s000` appears twice");
    check(
        &|d| d.modalities[0].present.pop().map(drop).unwrap_or(()),
        "modality `image` has 11 presence flags",
    );
    check(
        &|d| d.modalities[0].values.truncate(5),
        "modality `image` has 5 values, expected 12 x [3, 32, 32]",
    );
    check(
        &|d| d.modalities[1].spec.shape = vec![],
        "modality `audio` has the empty shape []",
    );
}
