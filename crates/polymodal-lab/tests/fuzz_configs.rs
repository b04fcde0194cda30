//! Seeded fuzzing of the lab's entry points that read user text: training, simulation and
//! comparison configs (file text and `--set` overrides) and `--noise` specs. Every input must
//! give a value or a typed error naming its origin, never a panic. The corpus is generated from
//! a fixed seed, so a failure reproduces; the failing input is printed.

use polymodal_lab::compare::config::CompareConfig;
use polymodal_lab::config::RunConfig;
use polymodal_lab::eval::NoiseSpec;
use polymodal_lab::simulate::config::SimConfig;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

const KEYS: &[&str] = &[
    "seed",
    "base",
    "dataset.path",
    "dataset.text_features",
    "data.path",
    "data.seed",
    "data.image.occlusion",
    "data.audio.snr_db",
    "augment.enabled",
    "model.fusion",
    "model.feature_dim",
    "model.fusion_dim",
    "model.attention_heads",
    "model.tensor_rank",
    "model.conv_channels",
    "model.dropout",
    "train.epochs",
    "train.batch_size",
    "train.eval_batch_size",
    "train.lr",
    "train.momentum",
    "train.modality_dropout",
    "train.loss_weights.fused",
    "train.ogm.alpha",
    "train.ogm.enabled",
    "active.strategies",
    "active.seeds",
    "active.initial",
    "active.per_round",
    "active.rounds",
    "active.workers",
    "active.params.mc_passes",
    "active.params.kmeans_iters",
    "compare.fusions",
    "compare.ogm",
    "compare.seeds",
    "compare.workers",
    "nonsense.key",
];

const VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "3",
    "18446744073709551615",
    "9223372036854775807",
    "1e308",
    "-1e-30",
    "nan",
    "inf",
    "0.5",
    "1.5",
    "true",
    "\"\"",
    "\"gated\"",
    "\"bmmal\"",
    "\"../../etc\"",
    "\"nope.toml\"",
    "[]",
    "[0]",
    "[1, 1]",
    "[\"random\", \"bmmal\"]",
    "[\"concat\", \"late\"]",
    "[-6.0, 18.0]",
    "[18.0, -6.0]",
    "{ a = 1 }",
    "\"\\u0000\"",
];

fn random_text(rng: &mut impl Rng) -> String {
    let mut text = String::new();
    for _ in 0..rng.random_range(0..6) {
        let key = KEYS.choose(rng).unwrap();
        let value = VALUES.choose(rng).unwrap();
        match key.rsplit_once('.') {
            Some((table, leaf)) if rng.random_bool(0.7) => {
                text.push_str(&format!("[{table}]\n{leaf} = {value}\n"))
            }
            _ => text.push_str(&format!("{key} = {value}\n")),
        }
    }
    // Byte-level damage: truncation and stray characters.
    if rng.random_bool(0.2) && !text.is_empty() {
        let cut = rng.random_range(0..text.len());
        text = text.chars().take(cut).collect();
    }
    if rng.random_bool(0.1) {
        text.insert(rng.random_range(0..=text.len()).min(text.len()), '[');
    }
    text
}

fn random_overrides(rng: &mut impl Rng) -> Vec<String> {
    (0..rng.random_range(0..3))
        .map(|_| {
            let key = KEYS.choose(rng).unwrap();
            let value = VALUES.choose(rng).unwrap();
            match rng.random_range(0..10) {
                0 => key.to_string(),
                1 => format!("={value}"),
                2 => format!("{key}..x={value}"),
                _ => format!("{key}={value}"),
            }
        })
        .collect()
}

fn no_panic<T>(what: &str, input: &str, f: impl FnOnce() -> Result<T, polymodal_lab::LabError>) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    match outcome {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => assert!(
            !e.to_string().is_empty(),
            "{what}: empty error for {input:?}"
        ),
        Err(_) => panic!("{what} panicked on input {input:?}"),
    }
}

#[test]
fn configs_and_overrides_never_panic() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261128);
    for _ in 0..3000 {
        let text = random_text(&mut rng);
        let sets = random_overrides(&mut rng);
        let input = format!("{text}\n--set {sets:?}");
        no_panic("train config", &input, || {
            RunConfig::parse(&text, "fuzz.toml", &sets)?.check("fuzz.toml")
        });
        no_panic("simulate config", &input, || {
            SimConfig::parse(&text, "fuzz.toml", &sets)?.check("fuzz.toml")
        });
        no_panic("compare config", &input, || {
            CompareConfig::parse(&text, "fuzz.toml", &sets)?.check("fuzz.toml")
        });
    }
}

#[test]
fn errors_name_the_origin() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut errors = 0;
    for _ in 0..500 {
        let text = random_text(&mut rng);
        if let Err(e) =
            RunConfig::parse(&text, "origin.toml", &[]).and_then(|c| c.check("origin.toml"))
        {
            errors += 1;
            assert!(e.to_string().contains("origin.toml"), "{text:?}: {e}");
        }
    }
    assert!(
        errors > 100,
        "the corpus should mostly be invalid ({errors})"
    );
}

#[test]
fn noise_specs_never_panic() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let parts = [
        "audio", "image", "=", "dB", "db", "-", "1e999", "nan", "0.5", " ", "==", "é",
    ];
    for _ in 0..5000 {
        let s: String = (0..rng.random_range(0..6))
            .map(|_| *parts.choose(&mut rng).unwrap())
            .collect();
        let r = std::panic::catch_unwind(|| s.parse::<NoiseSpec>().map(|_| ()));
        assert!(r.is_ok(), "panicked on {s:?}");
    }
}
