//! `project init` as the binary calls it (`rounds::init_project`): which dataset labels a new
//! project keeps, and the errors a user sees for a bad request.

mod common;

use polymodal_lab::data::Locations;
use polymodal_lab::rounds::{init_project, ProjectRequest};

#[test]
fn kept_labels_follow_the_request() {
    let root = tempfile::tempdir().unwrap();
    let store = common::make_dataset(root.path());
    let at = Locations::default();
    // (keep_labels, labelled rows afterwards): all three dataset labels, two of them, none.
    for (i, (keep, labelled)) in [(None, 3), (Some(2), 2), (Some(0), 0)]
        .into_iter()
        .enumerate()
    {
        let request = ProjectRequest {
            dataset: Some(store.clone()),
            keep_labels: keep,
            seed: 1,
            ..Default::default()
        };
        let p = init_project(&root.path().join(format!("p{i}")), &request, &at).unwrap();
        let c = p.counts().unwrap();
        assert_eq!(c.train, common::TRAIN, "{keep:?}");
        assert_eq!(c.labelled, labelled, "{keep:?}");
        assert_eq!(c.pool, common::TRAIN - labelled, "{keep:?}");
    }
}

#[test]
fn a_bad_request_names_what_is_wrong() {
    let root = tempfile::tempdir().unwrap();
    let store = common::make_dataset(root.path());
    let at = Locations {
        roots: vec![root.path().join("nowhere")],
        hint: "set POLYMODAL_HOME".into(),
    };
    let request = |keep, config| ProjectRequest {
        dataset: Some(store.clone()),
        config,
        keep_labels: keep,
        seed: 1,
    };
    let too_many = init_project(&root.path().join("a"), &request(Some(4), None), &at)
        .unwrap_err()
        .to_string();
    assert!(
        too_many.contains("--keep-labels 4") && too_many.contains("has 3 labelled"),
        "{too_many}"
    );
    let missing = root.path().join("no-such-config.toml");
    let no_config = init_project(&root.path().join("b"), &request(None, Some(missing)), &at)
        .unwrap_err()
        .to_string();
    assert!(no_config.contains("no-such-config.toml"), "{no_config}");
    // The built-in data, with no root that holds it: the hint reaches the user.
    let builtin = ProjectRequest {
        seed: 1,
        ..Default::default()
    };
    let no_data = init_project(&root.path().join("c"), &builtin, &at)
        .unwrap_err()
        .to_string();
    assert!(no_data.contains("POLYMODAL_HOME"), "{no_data}");
}
