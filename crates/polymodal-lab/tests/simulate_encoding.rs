//! `simulate` encodes the pool once per (model, pool): every strategy of a seed shares the
//! round-1 encoding of the round-0 model, a strategy that reads nothing from the model (random)
//! encodes nothing, and sharing changes no selection and no metric.

use polymodal_lab::progress::NoProgress;
use polymodal_lab::simulate::config::SimConfig;
use std::path::Path;

mod common;
use common::{at, example_store as dataset};

const STRATEGIES: [&str; 6] = ["random", "entropy", "bald", "coreset", "badge", "bmmal"];
const SEEDS: usize = 2;
const ROUNDS: usize = 2;

fn config(ds: &Path) -> polymodal_lab::config::Checked<SimConfig> {
    let strategies = STRATEGIES.map(|s| format!("\"{s}\"")).join(", ");
    let over: Vec<String> = [
        "train.epochs=2".to_string(),
        "train.batch_size=16".into(),
        // Smaller than the pool: the encoding runs in several batches.
        "train.eval_batch_size=7".into(),
        "model.feature_dim=16".into(),
        "model.conv_channels=[4, 8]".into(),
        format!("active.strategies=[{strategies}]"),
        "active.seeds=[1, 2]".into(),
        "active.initial=8".into(),
        "active.per_round=4".into(),
        format!("active.rounds={ROUNDS}"),
        "active.workers=2".into(),
        "active.params.mc_passes=3".into(),
    ]
    .into();
    let mut c = SimConfig::parse(polymodal_lab::config::QUICK_SIMULATION, "quick", &over).unwrap();
    c.base.dataset.path = Some(ds.to_path_buf());
    c.check("quick").unwrap()
}

/// Every cell's `row.json` minus its timings: selected and labelled ids, metrics.
fn cells(out: &Path) -> Vec<(String, serde_json::Value)> {
    let mut found = Vec::new();
    let mut stack = vec![out.join("cells")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().unwrap() == "row.json" {
                let mut v: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                let row = v["row"].as_object_mut().unwrap();
                row.remove("selection_seconds");
                row.remove("train_seconds");
                found.push((p.strip_prefix(out).unwrap().display().to_string(), v));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

#[test]
fn strategies_sharing_a_model_share_one_pool_encoding_and_select_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path(), 12);
    let shared_out = tmp.path().join("shared");
    let own_out = tmp.path().join("own");
    let shared =
        polymodal_lab::simulate::run_with(config(&ds), &shared_out, &at(), &NoProgress, true)
            .unwrap();
    let own = polymodal_lab::simulate::run_with(config(&ds), &own_out, &at(), &NoProgress, false)
        .unwrap();

    // Identical selections (ids, in order) and identical metrics in every cell.
    let (a, b) = (cells(&shared_out), cells(&own_out));
    assert_eq!(a.len(), SEEDS * (1 + STRATEGIES.len() * ROUNDS));
    for ((pa, va), (pb, vb)) in a.iter().zip(&b) {
        assert_eq!(pa, pb);
        assert_eq!(va, vb, "{pa}");
        assert!(!va["selected_ids"].as_array().unwrap().is_empty(), "{pa}");
    }
    assert_eq!(shared.aubc, own.aubc);

    // Encoding passes. Random reads nothing from the model: none. BALD encodes for its own
    // MC-dropout passes (seeded per strategy, never shared): one per round. The other four
    // (entropy, coreset, badge, bmmal) read the pool arrays: without sharing one pass each per
    // round; with sharing one pass per seed in round 1 (the round-0 model), one each later.
    let model_readers = 4;
    let per_seed_own = ROUNDS * (model_readers + 1);
    let per_seed_shared = 1 + 1 + (ROUNDS - 1) * (model_readers + 1);
    assert_eq!(own.pool_encodings, SEEDS * per_seed_own);
    assert_eq!(shared.pool_encodings, SEEDS * per_seed_shared);

    // A resumed run reads every cell back and encodes nothing.
    let again =
        polymodal_lab::simulate::run_with(config(&ds), &shared_out, &at(), &NoProgress, true)
            .unwrap();
    assert_eq!(again.pool_encodings, 0);
    assert_eq!(again.aubc, shared.aubc);
}
