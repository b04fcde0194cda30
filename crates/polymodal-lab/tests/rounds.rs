//! Real labelling rounds replay a simulation exactly: a project that starts from the
//! simulation's round-0 labels, selects with the same strategy and seed, and is given the hidden
//! labels of each batch (the oracle) has the simulation's learning curve, number for number.

use polymodal_lab::data::Locations;
use polymodal_lab::progress::NoProgress;
use polymodal_lab::project::{DatasetLabels, DatasetSource, InitOptions, Project};
use polymodal_lab::simulate::config::SimConfig;
use polymodal_train::trainer::Silent;
use std::path::{Path, PathBuf};

mod common;
fn dataset(dir: &Path) -> PathBuf {
    common::example_store(dir, 16)
}

const TRAINING: &str = "\
seed = 1
[train]
epochs = 2
batch_size = 16
[model]
feature_dim = 16
conv_channels = [4, 8]
";

#[test]
fn labelling_rounds_with_the_hidden_labels_follow_the_simulation() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let at = Locations::default();
    // The simulation: BMMAL, seed 1, 8 labels then 2 rounds of 4.
    let mut sim = SimConfig::parse(
        &format!("{}\n[active]\nstrategies = [\"bmmal\"]\nseeds = [1]\ninitial = 8\nper_round = 4\nrounds = 2\n", TRAINING.replace("seed = 1\n", "")),
        "sim",
        &[],
    )
    .unwrap();
    sim.base.dataset.path = Some(ds.clone());
    let sim_out = tmp.path().join("sim");
    polymodal_lab::simulate::run(sim.check("sim").unwrap(), &sim_out, &at, &NoProgress).unwrap();
    let mut results = csv::Reader::from_path(sim_out.join("results.csv")).unwrap();
    let curve: Vec<(usize, f64)> = results
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[3].parse().unwrap(), r[4].parse().unwrap())
        })
        .collect();
    assert_eq!(curve.len(), 3);

    // The project: the same 8 round-0 labels in the same order, the rest hidden.
    let data = polymodal_data::store::load(&ds, &Default::default()).unwrap();
    let initial: Vec<String> = polymodal_lab::simulate::initial_set(&data, 1, 8)
        .into_iter()
        .map(|i| data.ids[i].0.clone())
        .collect();
    let proj = tmp.path().join("proj");
    Project::init(
        &proj,
        &InitOptions {
            dataset: DatasetSource::Store(ds.clone()),
            config_toml: TRAINING.into(),
            dataset_labels: DatasetLabels::Only(initial),
        },
    )
    .unwrap();
    let mut project_curve = Vec::new();
    let m = polymodal_lab::rounds::train(&proj, &mut Silent).unwrap();
    project_curve.push((m.n_labeled, m.accuracy));
    for _ in 0..2 {
        let (_, ids) = polymodal_lab::rounds::select(
            &proj,
            polymodal_active::StrategyKind::Bmmal,
            4,
            &mut Silent,
        )
        .unwrap();
        assert_eq!(ids.len(), 4);
        let given = polymodal_lab::rounds::label_from_dataset(&proj).unwrap();
        assert_eq!(given, 4);
        let m = polymodal_lab::rounds::train(&proj, &mut Silent).unwrap();
        project_curve.push((m.n_labeled, m.accuracy));
    }
    let round = |v: &[(usize, f64)]| -> Vec<(usize, String)> {
        v.iter().map(|(n, a)| (*n, format!("{a:.6}"))).collect()
    };
    assert_eq!(round(&project_curve), round(&curve));
    // The project's report shows the learning curve.
    let report = std::fs::read_to_string(proj.join("report.md")).unwrap();
    assert!(report.contains("![learning curve](curves.svg)"), "{report}");
    assert_eq!(report.matches("| bmmal |").count(), 2, "{report}");
    assert!(proj.join("curves.png").exists() && proj.join("curves.svg").exists());
}
