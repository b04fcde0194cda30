//! The lab in-process: `simulate` and `compare` on a small imported dataset (resume, identical
//! results, a relabelled dataset refused), `eval` tolerant of the batch size, and the shipped
//! experiment configs resolving to the training config they extend.

use polymodal_lab::compare::config::CompareConfig;
use polymodal_lab::config::RunConfig;
use polymodal_lab::progress::NoProgress;
use polymodal_lab::simulate::config::SimConfig;
use polymodal_train::trainer::Silent;

mod common;
use common::{at, example_store as dataset, repo};

const TINY: [&str; 4] = [
    "train.epochs=2",
    "train.batch_size=16",
    "model.feature_dim=16",
    "model.conv_channels=[4, 8]",
];

fn overrides(extra: &[&str]) -> Vec<String> {
    TINY.iter().chain(extra).map(|s| s.to_string()).collect()
}

#[test]
fn simulate_runs_in_process_resumes_identically_and_refuses_relabelled_data() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path(), 16);
    let cfg = |extra: &[&str]| {
        let mut c = SimConfig::parse(
            polymodal_lab::config::QUICK_SIMULATION,
            "quick",
            &overrides(extra),
        )
        .unwrap();
        c.base.dataset.path = Some(ds.clone());
        c.check("quick").unwrap()
    };
    let sim = [
        "active.strategies=[\"random\", \"entropy\", \"bmmal\"]",
        "active.seeds=[1]",
        "active.initial=8",
        "active.per_round=4",
        "active.rounds=2",
    ];
    let out = tmp.path().join("sim");
    let first = polymodal_lab::simulate::run(cfg(&sim), &out, &at(), &NoProgress).unwrap();
    assert_eq!(first.aubc.len(), 3);
    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(results.lines().count(), 1 + 3 * 3, "{results}");
    // Interrupted after the fact: remove one finished cell, rerun, same numbers.
    std::fs::remove_dir_all(out.join("cells/bmmal/seed1/round2")).unwrap();
    let again = polymodal_lab::simulate::run(cfg(&sim), &out, &at(), &NoProgress).unwrap();
    let strip = |csv: &str| -> Vec<String> {
        // Timings are the only columns allowed to differ.
        csv.lines()
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                f[..f.len() - 2].join(",")
            })
            .collect()
    };
    let results2 = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(strip(&results), strip(&results2));
    assert_eq!(first.aubc, again.aubc);
    // A relabelled dataset is a different dataset: resuming with it is refused.
    let meta_path = ds.join("dataset.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    let labels = meta["labels"].as_array_mut().unwrap();
    let first_label = labels[0].clone();
    labels[0] = labels.iter().find(|l| **l != first_label).unwrap().clone();
    std::fs::write(&meta_path, serde_json::to_string(&meta).unwrap()).unwrap();
    let mut relabelled = SimConfig::parse(
        polymodal_lab::config::QUICK_SIMULATION,
        "quick",
        &overrides(&sim),
    )
    .unwrap();
    relabelled.base.dataset.path = Some(ds.clone());
    match polymodal_lab::simulate::run(relabelled.check("q").unwrap(), &out, &at(), &NoProgress) {
        Ok(_) => panic!("a relabelled dataset must not resume the old simulation"),
        Err(e) => {
            let e = e.to_string();
            assert!(
                e.contains("fingerprint") || e.contains("dataset.json"),
                "{e}"
            );
        }
    }
}

#[test]
fn compare_runs_in_process_on_an_imported_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path(), 10);
    let mut c = CompareConfig::load(
        &repo().join("configs/fusion-compare.toml"),
        &overrides(&[
            "compare.fusions=[\"concat\", \"late\"]",
            "compare.seeds=[1]",
            "compare.ogm=[false, true]",
        ]),
    )
    .unwrap();
    c.base.dataset.path = Some(ds);
    let out = tmp.path().join("cmp");
    let rows = polymodal_lab::compare::run(c.clone().check("x").unwrap(), &out, &at(), &NoProgress)
        .unwrap();
    assert_eq!(rows.len(), 4);
    for r in &rows {
        assert_eq!(r.modality_accuracy.len(), 3, "image, audio, caption");
        let share: f64 = r.contribution.iter().sum();
        assert!(
            (share - 1.0).abs() < 1e-6,
            "contributions sum to 1: {share}"
        );
    }
    let table = std::fs::read_to_string(out.join("table.md")).unwrap();
    assert!(table.contains("Test split of"), "{table}");
    // Resuming returns the same rows without training (compared as JSON: NaN marks "never
    // dominant" and is not equal to itself).
    let again =
        polymodal_lab::compare::run(c.check("x").unwrap(), &out, &at(), &NoProgress).unwrap();
    assert_eq!(
        serde_json::to_string(&rows).unwrap(),
        serde_json::to_string(&again).unwrap()
    );
}

#[test]
fn eval_matches_training_whatever_the_eval_batch_size() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path(), 10);
    let mut cfg = RunConfig::parse("", "x", &overrides(&[])).unwrap();
    cfg.dataset.path = Some(ds);
    let run = tmp.path().join("run");
    polymodal_lab::train::run(cfg.check("x").unwrap(), &run, &at(), &mut Silent).unwrap();
    let corruption = polymodal_lab::eval::Corruption::default();
    let same = polymodal_lab::eval::run(&run, &corruption, None, &at()).unwrap();
    assert!(same.matches_training);
    let config = run.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("eval_batch_size = 256"), "{text}");
    std::fs::write(
        &config,
        text.replace("eval_batch_size = 256", "eval_batch_size = 7"),
    )
    .unwrap();
    let other = polymodal_lab::eval::run(&run, &corruption, None, &at()).unwrap();
    assert!(other.matches_training, "a batch size is not a metric");
    // contributions.csv is real CSV with the ids of the test split.
    let mut r = csv::Reader::from_path(run.join("contributions.csv")).unwrap();
    assert_eq!(&r.headers().unwrap()[0], "id");
    assert!(r.records().count() > 0);
}

#[test]
fn shipped_experiment_configs_extend_the_training_config() {
    let base = RunConfig::load(&repo().join("configs/avdigits.toml"), &[]).unwrap();
    let sim = SimConfig::load(&repo().join("configs/al-avdigits.toml"), &[]).unwrap();
    let mut expected = base.clone();
    expected.train.epochs = 12;
    expected.seed = sim.base.seed;
    assert_eq!(sim.base, expected);
    assert_eq!(sim.ext.strategies.len(), 9);
    let quick = SimConfig::parse(polymodal_lab::config::QUICK_SIMULATION, "quick", &[]).unwrap();
    let mut expected = base.clone();
    expected.train.epochs = 8;
    expected.seed = quick.base.seed;
    assert_eq!(quick.base, expected);
    let cmp = CompareConfig::load(&repo().join("configs/fusion-compare.toml"), &[]).unwrap();
    let mut expected = base;
    expected.train.ogm.noise = false;
    expected.seed = cmp.base.seed;
    assert_eq!(cmp.base, expected);
    // A top-level seed in an experiment config would be unused: refused.
    let e = SimConfig::parse("seed = 4\n[active]\nseeds = [1]", "s.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("active.seeds"), "{e}");
    let e = SimConfig::parse("", "s.toml", &["seed=4".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("active.seeds"), "{e}");
}
