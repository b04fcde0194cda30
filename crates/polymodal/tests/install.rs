//! A binary copied out of the checkout (as `cargo install` does) finds the built-in data through
//! `POLYMODAL_HOME`, and without it says how to point at the data.

use std::process::Command;

#[test]
fn a_copied_binary_finds_the_data_through_polymodal_home_or_says_how() {
    let repo = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .canonicalize()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let exe = bin.join("polymodal");
    std::fs::copy(env!("CARGO_BIN_EXE_polymodal"), &exe).unwrap();
    let config = repo.join("configs/avdigits.toml");
    let run = |home: Option<&std::path::Path>, out: &str| {
        let mut c = Command::new(&exe);
        c.args([
            "train",
            "--config",
            config.to_str().unwrap(),
            "--set",
            "train.epochs=1",
            "--set",
            "train.max_train_samples=32",
            "--out",
            tmp.path().join(out).to_str().unwrap(),
        ])
        .current_dir(tmp.path())
        .env("RUST_LOG", "warn")
        .env_remove("POLYMODAL_HOME");
        if let Some(h) = home {
            c.env("POLYMODAL_HOME", h);
        }
        c.output().unwrap()
    };
    let o = run(None, "r1");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("not found") && err.contains("POLYMODAL_HOME"),
        "{err}"
    );
    let o = run(Some(&repo), "r2");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(tmp.path().join("r2/metrics.json").exists());
}
