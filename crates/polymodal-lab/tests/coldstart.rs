//! The zero-label pipeline in-process on a small imported dataset (image, audio, caption):
//! pretrain → retrieve → coldstart → a simulation whose round 0 is the cold-start batch and
//! whose models start from the pretrained encoders.

use polymodal_active::coldstart::{ColdStartKind, ColdStartParams};
use polymodal_core::{fsutil, Split};
use polymodal_lab::coldstart::ColdStartConfig;
use polymodal_lab::pretrain::PretrainRunConfig;
use polymodal_lab::progress::NoProgress;
use polymodal_lab::retrieve::Query;
use polymodal_lab::simulate::config::SimConfig;
use polymodal_train::pretrain::Quiet;
use std::path::{Path, PathBuf};

mod common;
use common::at;

fn dataset(dir: &Path) -> PathBuf {
    common::example_store(dir, 8)
}

const TINY_MODEL: [&str; 4] = [
    "train.epochs=1",
    "train.batch_size=8",
    "model.feature_dim=8",
    "model.conv_channels=[2, 4]",
];

#[test]
fn zero_labels_pipeline_pretrain_retrieve_coldstart_simulate() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let mut sets: Vec<String> = TINY_MODEL.iter().map(|s| s.to_string()).collect();
    sets.extend(
        [
            "pretrain.epochs=2",
            "pretrain.batch_size=8",
            "pretrain.embed_dim=8",
            "pretrain.proj_hidden=8",
            "pretrain.prototypes=4",
        ]
        .map(String::from),
    );
    let mut cfg = PretrainRunConfig::parse("", "t", &sets).unwrap();
    cfg.base.dataset.path = Some(ds.clone());
    let pt = tmp.path().join("pt");
    let summary =
        polymodal_lab::pretrain::run(cfg.check("t").unwrap(), &pt, &at(), &mut Quiet).unwrap();
    assert_eq!(summary.modalities.len(), 3);
    assert_eq!(summary.gap.len(), 3);
    for f in [
        "run.json",
        "config.toml",
        "pretrain.csv",
        "encoder.safetensors",
        "embeddings.safetensors",
        "samples.json",
        "report.md",
        "curves.png",
    ] {
        assert!(pt.join(f).is_file(), "{f}");
    }
    let csv = std::fs::read_to_string(pt.join("pretrain.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.lines().next().unwrap().contains("gap_image-audio"));
    let emb = polymodal_lab::pretrain::load_embeddings(&pt).unwrap();
    assert_eq!(emb.len(), 24);

    // Retrieval: both directions of 3 pairs; an id query finds neighbours in every modality.
    let first_test = emb.split_rows(Split::Test)[0];
    let id = emb.index.ids[first_test].clone();
    let r =
        polymodal_lab::retrieve::run(&pt, Split::Test, Some(&Query::Id(id.clone())), 2).unwrap();
    assert_eq!(r.directions.len(), 6);
    assert!(r
        .directions
        .iter()
        .all(|d| d.recall_at_10 >= d.recall_at_1 && d.median_rank >= 1.0));
    assert_eq!(r.neighbours.len(), 9);
    assert!(r
        .neighbours
        .iter()
        .all(|n| n.hits.iter().all(|(h, _)| *h != id)));
    let r = polymodal_lab::retrieve::run(&pt, Split::Test, Some(&Query::Text("low".into())), 3)
        .unwrap();
    assert_eq!(r.neighbours.len(), 3);
    let e = polymodal_lab::retrieve::run(&pt, Split::Test, Some(&Query::Id("nope".into())), 3)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope"), "{e}");

    // Cold start: exact budget of distinct train ids, deterministic.
    let cs = |out: &str, strategy| {
        let config = ColdStartConfig {
            pretrained: pt.clone(),
            strategy,
            budget: 5,
            seed: 1,
            params: ColdStartParams::default(),
        };
        polymodal_lab::coldstart::run(&config, &tmp.path().join(out)).unwrap();
        let ids: Vec<String> =
            fsutil::read_json(&tmp.path().join(out).join("selected.json")).unwrap();
        ids
    };
    let a = cs("cs-a", ColdStartKind::Mmcsal);
    assert_eq!(a, cs("cs-b", ColdStartKind::Mmcsal));
    let train: Vec<&String> = emb
        .split_rows(Split::Train)
        .into_iter()
        .map(|i| &emb.index.ids[i])
        .collect();
    assert_eq!(a.len(), 5);
    assert!(a.iter().all(|id| train.contains(&id)));
    assert_eq!(a.iter().collect::<std::collections::HashSet<_>>().len(), 5);
    assert_eq!(cs("cs-k", ColdStartKind::Kmeans).len(), 5);
    let too_many = ColdStartConfig {
        pretrained: pt.clone(),
        strategy: ColdStartKind::Mmcsal,
        budget: 1000,
        seed: 1,
        params: ColdStartParams::default(),
    };
    assert!(polymodal_lab::coldstart::run(&too_many, &tmp.path().join("cs-x")).is_err());

    // One pipeline: round 0 is MMCSAL's batch (the same as `coldstart` with the same seed),
    // every model starts from the pretrained encoders.
    let mut sim_sets: Vec<String> = TINY_MODEL.iter().map(|s| s.to_string()).collect();
    sim_sets.extend([
        "active.strategies=[\"random\"]".to_string(),
        "active.seeds=[1]".to_string(),
        "active.initial=5".to_string(),
        "active.per_round=3".to_string(),
        "active.rounds=1".to_string(),
        "active.initial_strategy=\"mmcsal\"".to_string(),
        format!("active.pretrained={:?}", pt.display().to_string()),
        "active.pretrained_init=true".to_string(),
    ]);
    let mut sim =
        SimConfig::parse(polymodal_lab::config::QUICK_SIMULATION, "q", &sim_sets).unwrap();
    sim.base.dataset.path = Some(ds.clone());
    let out = tmp.path().join("sim");
    polymodal_lab::simulate::run(sim.check("q").unwrap(), &out, &at(), &NoProgress).unwrap();
    let round0: serde_json::Value =
        fsutil::read_json(&out.join("cells/round0/seed1/round0/row.json")).unwrap();
    let labelled: Vec<String> = serde_json::from_value(round0["labelled_ids"].clone()).unwrap();
    assert_eq!(labelled, a);
    for cell in ["cells/round0/seed1/round0", "cells/random/seed1/round1"] {
        assert!(out.join(cell).join("init.safetensors").is_file(), "{cell}");
    }

    // A labelling project with zero labels gets its first batch the same way: the queued ids
    // are `coldstart`'s batch (same seed, the pool is the whole train split).
    use polymodal_lab::project::{DatasetLabels, DatasetSource, InitOptions, Project};
    let proj = tmp.path().join("project");
    drop(
        Project::init(
            &proj,
            &InitOptions {
                dataset: DatasetSource::Store(ds.clone()),
                config_toml: "[train]\nepochs = 1\n".into(),
                dataset_labels: DatasetLabels::Only(Vec::new()),
            },
        )
        .unwrap(),
    );
    let cold = |budget| {
        polymodal_lab::rounds::select_cold(
            &proj,
            &pt,
            ColdStartKind::Mmcsal,
            &ColdStartParams::default(),
            budget,
        )
    };
    let e = cold(1000).unwrap_err().to_string();
    assert!(e.contains("larger than the unlabelled pool"), "{e}");
    let (round, queued) = cold(5).unwrap();
    assert_eq!((round, &queued), (1, &a));
    let e = cold(5).unwrap_err().to_string();
    assert!(e.contains("still has 5 samples to label"), "{e}");
}
