//! Dataset invariants on small hand-made data.

use polymodal_core::{ModalityKind, ModalitySpec, SampleId, Split};
use polymodal_data::{AugmentConfig, Dataset, ModalityData};

fn tiny(values: Vec<f32>) -> Dataset {
    Dataset {
        name: "tiny".into(),
        ids: vec![SampleId("a".into()), SampleId("b".into())],
        labels: vec![Some(0), None],
        class_names: vec!["x".into(), "y".into()],
        splits: vec![Split::Train, Split::Test],
        modalities: vec![ModalityData {
            spec: ModalitySpec {
                name: "v".into(),
                kind: ModalityKind::Vector,
                shape: vec![2],
            },
            values,
            present: vec![true, false],
        }],
        fingerprint: "t".into(),
    }
}

#[test]
fn non_finite_values_name_the_sample() {
    let e = tiny(vec![0.0, 1.0, f32::NAN, 0.0])
        .validate_finite()
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("sample b") && msg.contains("`v`"), "{msg}");
    assert!(tiny(vec![0.0; 4]).validate_finite().is_ok());
}

#[test]
fn batches_carry_presence_and_unlabelled_is_an_error_for_training() {
    let d = tiny(vec![1.0, 2.0, 3.0, 4.0]);
    let b = d.batch(&[1, 0], Some((&AugmentConfig::default(), 3)));
    assert_eq!(
        b.inputs[0],
        vec![3.0, 4.0, 1.0, 2.0],
        "vectors are not augmented"
    );
    assert_eq!(b.present[0], vec![0.0, 1.0]);
    let e = d.labels_of(&[0, 1]).unwrap_err().to_string();
    assert!(e.contains("sample b has no label"), "{e}");
}
