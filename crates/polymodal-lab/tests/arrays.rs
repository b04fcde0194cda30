//! `select --arrays`: reading safetensors / npz arrays exported by another framework and
//! selecting from them. The fixtures under tests/fixtures/arrays/ are written by
//! scripts/arrays/make_fixtures.py (a numpy late-fusion model: N = 24, C = 3, modalities audio
//! d = 3 and image d = 5, T = 4 MC passes, ids 100, 103, ..., 169 or "clip-00".."clip-23" with
//! "naïve-05"); the bad inputs are written here with the safetensors crate.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use polymodal_active::{StrategyKind, StrategyParams};
use polymodal_lab::arrays::{
    load_arrays, select, selection_json, write_csv, ArraysError, ExternalArrays, IdKind,
    LabelledIds,
};
use safetensors::{Dtype, SafeTensors};

const N: usize = 24;
const C: usize = 3;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/arrays")
        .join(name)
}

fn load(name: &str) -> ExternalArrays {
    load_arrays(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn params() -> StrategyParams {
    StrategyParams::default()
}

/// Row of each id.
fn rows(arrays: &ExternalArrays, ids: &[String]) -> Vec<usize> {
    let index: HashMap<&str, usize> = arrays
        .ids()
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    ids.iter().map(|id| index[id.as_str()]).collect()
}

#[test]
fn fixtures_load_with_the_documented_layout() {
    let a = load("pool.safetensors");
    assert_eq!(a.len(), N);
    assert_eq!(a.classes(), C);
    assert_eq!(a.id_kind(), IdKind::Integer);
    assert_eq!(a.ids()[0], "100");
    assert_eq!(a.ids()[N - 1], "169");
    assert_eq!(a.modalities(), ["audio", "image"]);
    assert_eq!(a.feature_dims(), [3, 5]);
    assert_eq!(a.mc_passes(), Some(4));
    assert_eq!(a.subset_probs().unwrap().len(), 4);
    // the script's model: probs is the all-present subset, exactly
    assert_eq!(a.subset_probs().unwrap()[3], a.probs());

    let s = load("pool_str.npz");
    assert_eq!(s.id_kind(), IdKind::String);
    assert_eq!(s.ids()[0], "clip-00");
    assert_eq!(s.ids()[5], "naïve-05");
    let st = load("pool_str.safetensors");
    assert_eq!(st.ids(), s.ids());
}

#[test]
fn npz_and_safetensors_hold_bit_identical_arrays() {
    // pool.npz stores probs as float64 and feat_image in Fortran order: both must come back as
    // the same f32 values, row-major.
    let st = load("pool.safetensors");
    for name in ["pool.npz", "pool_str.npz", "pool_str.safetensors"] {
        let other = load(name);
        assert_eq!(other.probs(), st.probs(), "{name}");
        assert_eq!(other.features(), st.features(), "{name}");
        assert_eq!(other.subset_probs(), st.subset_probs(), "{name}");
        assert_eq!(other.mc_probs(), st.mc_probs(), "{name}");
        assert_eq!(other.modalities(), st.modalities(), "{name}");
    }
    assert_eq!(load("pool.npz").ids(), st.ids());
}

#[test]
fn both_formats_and_both_id_kinds_give_the_same_selection() {
    let int_labelled = LabelledIds::read(fixture("labelled.txt")).unwrap();
    let str_labelled = LabelledIds::read(fixture("labelled_str.csv")).unwrap();
    let st = load("pool.safetensors");
    let npz = load("pool.npz");
    let st_str = load("pool_str.safetensors");
    let npz_str = load("pool_str.npz");
    for kind in StrategyKind::ALL {
        for seed in [0, 1] {
            let a = select(&st, kind, &params(), 6, &int_labelled, seed).unwrap();
            let b = select(&npz, kind, &params(), 6, &int_labelled, seed).unwrap();
            assert_eq!(a, b, "{kind} seed {seed}: safetensors vs npz");
            let c = select(&st_str, kind, &params(), 6, &str_labelled, seed).unwrap();
            let d = select(&npz_str, kind, &params(), 6, &str_labelled, seed).unwrap();
            assert_eq!(c, d, "{kind} seed {seed}: string ids, safetensors vs npz");
            assert_eq!(
                rows(&st, &a),
                rows(&st_str, &c),
                "{kind} seed {seed}: integer vs string ids pick the same rows"
            );
        }
    }
}

#[test]
fn every_strategy_keeps_the_contract_on_the_fixture() {
    let arrays = load("pool.safetensors");
    let labelled = LabelledIds::read(fixture("labelled.txt")).unwrap();
    let excluded: HashSet<&str> = ["100", "115", "127"].into();
    let ids: HashSet<&str> = arrays.ids().iter().map(String::as_str).collect();
    for kind in StrategyKind::ALL {
        for budget in [0, 1, 7, N - 3] {
            let picked = select(&arrays, kind, &params(), budget, &labelled, 3).unwrap();
            assert_eq!(picked.len(), budget, "{kind} budget {budget}");
            let distinct: HashSet<&str> = picked.iter().map(String::as_str).collect();
            assert_eq!(distinct.len(), budget, "{kind}: distinct ids");
            assert!(
                distinct
                    .iter()
                    .all(|id| ids.contains(id) && !excluded.contains(id)),
                "{kind}: only unlabelled ids from the file: {picked:?}"
            );
            let again = select(&arrays, kind, &params(), budget, &labelled, 3).unwrap();
            assert_eq!(picked, again, "{kind}: same seed, same selection");
        }
        let err = select(&arrays, kind, &params(), N - 2, &labelled, 3)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err, "budget 22 is larger than the pool of 21 unlabelled samples (24 ids, 3 labelled)",
            "{kind}"
        );
    }
}

fn entropy(p: &[f32]) -> f32 {
    -p.iter()
        .filter(|&&x| x > 0.0)
        .map(|&x| x * x.ln())
        .sum::<f32>()
}

/// Indices of `scores` sorted by descending score, ties to the lower index.
fn ranking(scores: &[(usize, f32)]) -> Vec<usize> {
    let mut s = scores.to_vec();
    s.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    s.into_iter().map(|(i, _)| i).collect()
}

#[test]
fn entropy_and_bald_pick_the_top_scores_of_the_pool_computed_here() {
    let arrays = load("pool.safetensors");
    let labelled = LabelledIds::read(fixture("labelled.txt")).unwrap();
    let pool: Vec<usize> = (0..N).filter(|r| ![0, 5, 9].contains(r)).collect();

    let scores: Vec<(usize, f32)> = pool
        .iter()
        .map(|&r| (r, entropy(&arrays.probs()[r * C..(r + 1) * C])))
        .collect();
    let picked = select(&arrays, StrategyKind::Entropy, &params(), 5, &labelled, 0).unwrap();
    assert_eq!(rows(&arrays, &picked), ranking(&scores)[..5]);

    // BALD: H(mean_t p_t) - mean_t H(p_t) over the file's T = 4 passes (params.mc_passes = 10 is
    // overridden by T).
    let mc = arrays.mc_probs().unwrap();
    let t = 4;
    let scores: Vec<(usize, f32)> = pool
        .iter()
        .map(|&r| {
            let passes: Vec<&[f32]> = (0..t)
                .map(|k| &mc[(k * N + r) * C..(k * N + r + 1) * C])
                .collect();
            let mean: Vec<f32> = (0..C)
                .map(|c| passes.iter().map(|p| p[c]).sum::<f32>() / t as f32)
                .collect();
            let expected = passes.iter().map(|p| entropy(p)).sum::<f32>() / t as f32;
            (r, entropy(&mean) - expected)
        })
        .collect();
    let picked = select(&arrays, StrategyKind::Bald, &params(), 5, &labelled, 0).unwrap();
    let got = rows(&arrays, &picked);
    let want = ranking(&scores);
    // f32 summation order may differ from the kernel's; compare the score sets where they are
    // not near-ties.
    assert_eq!(got[0], want[0], "BALD top pick: {got:?} vs {want:?}");
    assert_eq!(
        got.iter().collect::<HashSet<_>>(),
        want[..5].iter().collect::<HashSet<_>>()
    );
}

#[test]
fn coreset_starts_from_the_labelled_samples_as_centres() {
    // k-center greedy: the first pick is the pool row farthest (in the concatenated
    // [audio; image] features) from its nearest labelled row.
    let arrays = load("pool.safetensors");
    let labelled_rows = [0usize, 5, 9];
    let z = |r: usize| -> Vec<f32> {
        arrays
            .features()
            .iter()
            .zip(arrays.feature_dims())
            .flat_map(|(f, &d)| f[r * d..(r + 1) * d].to_vec())
            .collect()
    };
    let d2 = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>();
    let scores: Vec<(usize, f32)> = (0..N)
        .filter(|r| !labelled_rows.contains(r))
        .map(|r| {
            let min = labelled_rows
                .iter()
                .map(|&l| d2(&z(r), &z(l)))
                .fold(f32::INFINITY, f32::min);
            (r, min)
        })
        .collect();
    let labelled = LabelledIds::read(fixture("labelled.txt")).unwrap();
    let picked = select(&arrays, StrategyKind::Coreset, &params(), 1, &labelled, 0).unwrap();
    assert_eq!(rows(&arrays, &picked), [ranking(&scores)[0]]);
    // without labelled centres the selection differs (it starts from the pool mean)
    let none = select(
        &arrays,
        StrategyKind::Coreset,
        &params(),
        1,
        &LabelledIds::none(),
        0,
    )
    .unwrap();
    assert_eq!(none.len(), 1);
}

#[test]
fn labelled_files_plain_and_csv_resolve_to_the_same_rows() {
    let arrays = load("pool_str.npz");
    let from_csv = LabelledIds::read(fixture("labelled_str.csv")).unwrap();
    assert_eq!(from_csv.len(), 3);
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("labelled.txt");
    std::fs::write(&plain, "clip-00\nnaïve-05\n\nclip-09\n").unwrap();
    let from_plain = LabelledIds::read(&plain).unwrap();
    let from_code = LabelledIds::from_ids(["clip-00", "naïve-05", "clip-09"]);
    for kind in StrategyKind::ALL {
        let a = select(&arrays, kind, &params(), 4, &from_csv, 0).unwrap();
        assert_eq!(
            a,
            select(&arrays, kind, &params(), 4, &from_plain, 0).unwrap()
        );
        assert_eq!(
            a,
            select(&arrays, kind, &params(), 4, &from_code, 0).unwrap()
        );
    }
}

#[test]
fn csv_and_json_outputs() {
    let arrays = load("pool.safetensors");
    let picked = vec!["115".to_string(), "100".to_string()];
    let mut out = Vec::new();
    write_csv(&mut out, &picked, "out.csv").unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "rank,id\n1,115\n2,100\n");
    let json = selection_json(&arrays, StrategyKind::Badge, 7, &picked);
    assert_eq!(
        json.to_string(),
        r#"{"budget":2,"ids":[115,100],"seed":7,"strategy":"badge"}"#
    );
    let s = load("pool_str.safetensors");
    let picked = vec!["naïve-05".to_string(), "a,b".to_string()];
    let json = selection_json(&s, StrategyKind::Bmmal, 0, &picked);
    assert_eq!(json["ids"], serde_json::json!(["naïve-05", "a,b"]));
    let mut out = Vec::new();
    write_csv(&mut out, &picked, "out.csv").unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "rank,id\n1,naïve-05\n2,\"a,b\"\n"
    );
}

// ---- bad inputs: written from the good fixture with the safetensors crate ----

/// An owned tensor, for editing the fixture.
#[derive(Clone)]
struct Owned {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn f32s(shape: &[usize], values: &[f32]) -> Owned {
    assert_eq!(shape.iter().product::<usize>(), values.len());
    Owned {
        dtype: Dtype::F32,
        shape: shape.to_vec(),
        bytes: values.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

fn good() -> BTreeMap<String, Owned> {
    let bytes = std::fs::read(fixture("pool.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.iter()
        .map(|(name, v)| {
            (
                name.to_string(),
                Owned {
                    dtype: v.dtype(),
                    shape: v.shape().to_vec(),
                    bytes: v.data().to_vec(),
                },
            )
        })
        .collect()
}

fn values(t: &Owned) -> Vec<f32> {
    t.bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

fn write(
    dir: &Path,
    tensors: &BTreeMap<String, Owned>,
    metadata: Option<HashMap<String, String>>,
) -> PathBuf {
    let path = dir.join("bad.safetensors");
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(k, t)| {
            (
                k.clone(),
                safetensors::tensor::TensorView::new(t.dtype, t.shape.clone(), &t.bytes).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, metadata, &path).unwrap();
    path
}

fn load_err(tensors: &BTreeMap<String, Owned>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), tensors, None);
    match load_arrays(&path) {
        Ok(_) => panic!("loaded a bad file"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn wrong_shapes_name_the_tensor_and_the_expected_shape() {
    let mut t = good();
    let p = values(&t["probs"]);
    t.insert("probs".into(), f32s(&[N - 1, C], &p[..(N - 1) * C]));
    assert_eq!(
        load_err(&t),
        "probs: expected [N=24, C] f32 (f64, f16 and bf16 are converted) (N from ids), \
         got [23, 3]"
    );

    let mut t = good();
    let f = values(&t["feat_audio"]);
    t.insert("feat_audio".into(), f32s(&[N * 3], &f));
    assert_eq!(
        load_err(&t),
        "feat_audio: expected [N=24, d] f32 (f64, f16 and bf16 are converted) (N from ids), \
         got [72]"
    );

    let mut t = good();
    let s = values(&t["subset_probs"]);
    t.insert("subset_probs".into(), f32s(&[3, N, C], &s[..3 * N * C]));
    assert_eq!(
        load_err(&t),
        "subset_probs: expected [2^M=4, N=24, C=3] f32 (f64, f16 and bf16 are converted) \
         (M from the feat_* tensors, N from ids, C from probs), got [3, 24, 3]"
    );

    let mut t = good();
    let m = values(&t["mc_probs"]);
    t.insert("mc_probs".into(), f32s(&[4, N * C], &m));
    assert_eq!(
        load_err(&t),
        "mc_probs: expected [T, N=24, C=3] f32 (f64, f16 and bf16 are converted) (N from ids, \
         C from probs), got [4, 72]"
    );

    let mut t = good();
    let ids = t["ids"].clone();
    t.insert(
        "ids".into(),
        Owned {
            shape: vec![N, 1],
            ..ids
        },
    );
    let err = load_err(&t);
    assert!(err.starts_with("ids: expected [N] integers"), "{err}");
    assert!(err.ends_with("got [24, 1]"), "{err}");
}

#[test]
fn non_finite_values_and_non_probabilities_are_refused_with_position_and_id() {
    let mut t = good();
    let mut f = values(&t["feat_audio"]);
    f[2 * 3 + 1] = f32::NAN;
    t.insert("feat_audio".into(), f32s(&[N, 3], &f));
    assert_eq!(
        load_err(&t),
        "feat_audio: non-finite value NaN at [2, 1] (id 106)"
    );

    let mut t = good();
    let mut m = values(&t["mc_probs"]);
    m[(2 * N + 4) * C] = f32::INFINITY;
    t.insert("mc_probs".into(), f32s(&[4, N, C], &m));
    assert_eq!(
        load_err(&t),
        "mc_probs: non-finite value inf at [2, 4, 0] (id 112)"
    );

    // logits instead of probabilities
    let mut t = good();
    let mut p = values(&t["probs"]);
    p[3 * C..4 * C].copy_from_slice(&[2.0, -1.0, 0.5]);
    t.insert("probs".into(), f32s(&[N, C], &p));
    assert_eq!(
        load_err(&t),
        "probs: value 2 is outside [0, 1] at [3, 0] (id 109); expected probabilities (softmax \
         outputs, each row in [0, 1] summing to 1)"
    );
    let mut p = values(&good()["probs"]);
    p[3 * C..4 * C].copy_from_slice(&[0.5, 0.5, 0.5]);
    t.insert("probs".into(), f32s(&[N, C], &p));
    let err = load_err(&t);
    assert!(
        err.starts_with("probs: row sums to 1.5 at [3] (id 109)"),
        "{err}"
    );
}

#[test]
fn subset_probs_with_bits_meaning_absent_is_refused() {
    // reversing the subset axis makes entry 3 the "nothing present" prediction
    let mut t = good();
    let s = values(&t["subset_probs"]);
    let reversed: Vec<f32> = s.chunks_exact(N * C).rev().flatten().copied().collect();
    t.insert("subset_probs".into(), f32s(&[4, N, C], &reversed));
    let err = load_err(&t);
    assert!(
        err.starts_with(
            "subset_probs: subset_probs[3] (all of audio, image present; bit m set = modality m \
             present) must equal probs"
        ),
        "{err}"
    );
}

#[test]
fn missing_unknown_and_wrongly_typed_tensors() {
    let mut t = good();
    t.remove("probs");
    assert_eq!(
        load_err(&t),
        "probs: missing; expected [N=24, C] f32 (f64, f16 and bf16 are converted) (N from ids) \
         (the file has: feat_audio, feat_image, ids, mc_probs, subset_probs)"
    );

    let mut t = good();
    t.remove("ids");
    let err = load_err(&t);
    assert!(
        err.starts_with("ids: missing; expected [N] integers"),
        "{err}"
    );

    let mut t = good();
    let p = t.remove("probs").unwrap();
    t.insert("prob".into(), p);
    assert_eq!(
        load_err(&t),
        "unexpected tensor \"prob\"; expected ids, probs, feat_<modality>, subset_probs, mc_probs"
    );

    // integers where floats belong
    let mut t = good();
    let p = t["probs"].clone();
    t.insert(
        "probs".into(),
        Owned {
            dtype: Dtype::I32,
            ..p
        },
    );
    assert_eq!(
        load_err(&t),
        "probs: expected [N=24, C] f32 (f64, f16 and bf16 are converted) (N from ids), got \
         dtype I32"
    );

    // a dtype this reader does not know for any tensor (fp8)
    let mut t = good();
    t.insert(
        "feat_audio".into(),
        Owned {
            dtype: Dtype::F8_E4M3,
            shape: vec![N, 3],
            bytes: vec![0; N * 3],
        },
    );
    let err = load_err(&t);
    assert!(err.ends_with("got dtype F8_E4M3"), "{err}");

    // floats as ids
    let mut t = good();
    t.insert("ids".into(), f32s(&[N], &[0.0; N]));
    let err = load_err(&t);
    assert!(err.starts_with("ids: expected [N] integers"), "{err}");
    assert!(err.ends_with("got dtype F32"), "{err}");
}

#[test]
fn duplicate_and_badly_stored_ids() {
    let mut t = good();
    let mut ids: Vec<i64> = (0..N as i64).map(|i| 100 + 3 * i).collect();
    ids[7] = 103;
    t.insert(
        "ids".into(),
        Owned {
            dtype: Dtype::I64,
            shape: vec![N],
            bytes: ids.iter().flat_map(|x| x.to_le_bytes()).collect(),
        },
    );
    assert_eq!(
        load_err(&t),
        "ids: 103 appears at positions 1 and 7; ids must be distinct"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut t = good();
    t.remove("ids");
    let meta = |json: &str| Some(HashMap::from([("ids".to_string(), json.to_string())]));
    let path = write(dir.path(), &t, meta("[1, 2]"));
    let err = load_arrays(&path).unwrap_err().to_string();
    assert!(
        err.starts_with("ids: __metadata__[\"ids\"] must be a JSON list of strings"),
        "{err}"
    );
    let mut strs: Vec<String> = (0..N).map(|i| format!("s{i}")).collect();
    strs[9] = "s2".into();
    let path = write(dir.path(), &t, meta(&serde_json::to_string(&strs).unwrap()));
    assert_eq!(
        load_arrays(&path).unwrap_err().to_string(),
        "ids: \"s2\" appears at positions 2 and 9; ids must be distinct"
    );

    let t = good();
    let path = write(dir.path(), &t, meta("[\"a\"]"));
    assert_eq!(
        load_arrays(&path).unwrap_err().to_string(),
        "ids: both an ids tensor and __metadata__[\"ids\"]; keep one"
    );
}

#[test]
fn f64_f16_and_bf16_inputs_are_converted_to_f32() {
    let mut t = good();
    let p = values(&t["probs"]);
    t.insert(
        "probs".into(),
        Owned {
            dtype: Dtype::F64,
            shape: vec![N, C],
            bytes: p.iter().flat_map(|&x| f64::from(x).to_le_bytes()).collect(),
        },
    );
    // values exactly representable in f16 and bf16
    let audio: Vec<f32> = (0..N * 3).map(|i| i as f32 * 0.25 - 4.0).collect();
    let image: Vec<f32> = (0..N * 5).map(|i| i as f32 * 0.5 - 8.0).collect();
    t.insert(
        "feat_audio".into(),
        Owned {
            dtype: Dtype::F16,
            shape: vec![N, 3],
            bytes: audio
                .iter()
                .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
                .collect(),
        },
    );
    t.insert(
        "feat_image".into(),
        Owned {
            dtype: Dtype::BF16,
            shape: vec![N, 5],
            bytes: image
                .iter()
                .flat_map(|&x| half::bf16::from_f32(x).to_le_bytes())
                .collect(),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let a = load_arrays(write(dir.path(), &t, None)).unwrap();
    assert_eq!(a.probs(), p);
    assert_eq!(a.features(), [audio, image]);
}

#[test]
fn strategies_needing_an_absent_array_say_which_and_its_shape() {
    let none = LabelledIds::none();
    let dir = tempfile::tempdir().unwrap();
    let mut t = good();
    t.remove("subset_probs");
    t.remove("mc_probs");
    let a = load_arrays(write(dir.path(), &t, None)).unwrap();
    assert_eq!(
        select(&a, StrategyKind::Bmmal, &params(), 2, &none, 0)
            .unwrap_err()
            .to_string(),
        "subset_probs: strategy bmmal needs subset_probs [2^M=4, N=24, C=3] (fused probabilities \
         with each subset of the modalities audio, image present), which the file does not have"
    );
    assert_eq!(
        select(&a, StrategyKind::Bald, &params(), 2, &none, 0)
            .unwrap_err()
            .to_string(),
        "mc_probs: strategy bald needs mc_probs [T, N=24, C=3] (fused probabilities of T \
         MC-dropout passes), which the file does not have"
    );
    // the rest still run
    for kind in [
        StrategyKind::Badge,
        StrategyKind::Coreset,
        StrategyKind::Entropy,
    ] {
        assert_eq!(select(&a, kind, &params(), 2, &none, 0).unwrap().len(), 2);
    }

    // only ids and probs: uncertainty strategies run, feature strategies are refused
    let mut t = good();
    t.retain(|k, _| k == "ids" || k == "probs");
    let a = load_arrays(write(dir.path(), &t, None)).unwrap();
    assert_eq!(
        select(&a, StrategyKind::Margin, &params(), 3, &none, 0)
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        select(&a, StrategyKind::Badge, &params(), 2, &none, 0)
            .unwrap_err()
            .to_string(),
        "feat_<modality>: strategy badge needs at least one feat_<modality> tensor [N=24, d] of \
         penultimate features, which the file does not have"
    );

    // subset_probs without features: M is unknown
    let mut t = good();
    t.remove("feat_audio");
    t.remove("feat_image");
    let err = load_err(&t);
    assert_eq!(
        err,
        "subset_probs: expected [2^M, N=24, C=3] with M the number of feat_<modality> tensors, \
         but the file has none"
    );
}

#[test]
fn bad_labelled_ids_name_the_file_and_line() {
    let arrays = load("pool.safetensors");
    let dir = tempfile::tempdir().unwrap();
    let write_labelled = |text: &str| {
        let p = dir.path().join("l.txt");
        std::fs::write(&p, text).unwrap();
        p
    };
    let run = |p: &Path| {
        let labelled = LabelledIds::read(p).unwrap();
        select(&arrays, StrategyKind::Entropy, &params(), 1, &labelled, 0)
            .unwrap_err()
            .to_string()
    };
    let p = write_labelled("100\n101\n");
    assert_eq!(
        run(&p),
        format!(
            "{}: line 2: id 101 is not among the ids of {} (labelled samples must be in the \
             file: core-set uses their features as centres)",
            p.display(),
            fixture("pool.safetensors").display()
        )
    );
    let p = write_labelled("100\nclip-3\n");
    assert_eq!(
        run(&p),
        format!(
            "{}: line 2: \"clip-3\" is not an integer, and the ids of {} are integers",
            p.display(),
            fixture("pool.safetensors").display()
        )
    );
    let p = write_labelled("100\n\n103\n0100\n");
    assert_eq!(
        run(&p),
        format!(
            "{}: line 4: id 100 is listed again (first on line 1)",
            p.display()
        )
    );
    let p = write_labelled("label,id\ncat,\n");
    assert_eq!(
        LabelledIds::read(&p).unwrap_err().to_string(),
        format!("{}: line 2: empty id", p.display())
    );
    let p = write_labelled("label,name\ncat,a\n");
    // no `id` field in the first line: a plain list of two (odd) ids, which are not integers
    assert_eq!(
        run(&p),
        format!(
            "{}: line 1: \"label,name\" is not an integer, and the ids of {} are integers",
            p.display(),
            fixture("pool.safetensors").display()
        )
    );
}

#[test]
fn unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("junk.safetensors");
    std::fs::write(&p, b"this is not an array file").unwrap();
    let err = load_arrays(&p).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "{}: not a safetensors or npz file (safetensors:",
            p.display()
        )),
        "{err}"
    );
    let p = dir.path().join("junk.npz");
    std::fs::write(&p, b"PK\x03\x04 truncated").unwrap();
    let err = load_arrays(&p).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: not a readable npz archive", p.display())),
        "{err}"
    );
    let missing = dir.path().join("nope.npz");
    assert!(matches!(load_arrays(&missing), Err(ArraysError::Io { .. })));
}

#[test]
fn npz_bytes_ids_are_utf8_strings_and_object_arrays_are_refused() {
    let a = load("bytes_ids.npz");
    assert_eq!(a.id_kind(), IdKind::String);
    assert_eq!(a.ids(), load("pool_str.npz").ids());
    assert!(a.modalities().is_empty());
    let picked = select(
        &a,
        StrategyKind::Entropy,
        &params(),
        2,
        &LabelledIds::none(),
        0,
    )
    .unwrap();
    assert_eq!(picked.len(), 2);

    let err = load_arrays(fixture("object_ids.npz"))
        .unwrap_err()
        .to_string();
    let prefix = format!("{}: array \"ids\": ", fixture("object_ids.npz").display());
    assert!(err.starts_with(&prefix), "{err}");
    assert!(
        err.ends_with("(object arrays are not supported: save strings with .astype(str))"),
        "{err}"
    );
}
