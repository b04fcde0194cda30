//! Build provenance, recorded at compile time so a run directory says which code made it even
//! when the binary runs far from its source tree: the git commit (and whether the tree was
//! dirty) through vergen, plus the compiler, target and optimisation level cargo gives build
//! scripts. Outside a git checkout the git values are vergen's placeholder and the build prints
//! a warning.

use vergen_gitcl::{Emitter, GitclBuilder};

fn main() -> anyhow::Result<()> {
    let git = GitclBuilder::default().sha(false).dirty(false).build()?;
    Emitter::default().add_instructions(&git)?.emit()?;
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "rustc (unknown version)".into());
    println!("cargo:rustc-env=POLYMODAL_RUSTC={version}");
    for var in ["TARGET", "OPT_LEVEL", "PROFILE"] {
        let value = std::env::var(var).unwrap_or_else(|_| "unknown".into());
        println!("cargo:rustc-env=POLYMODAL_BUILD_{var}={value}");
    }
    Ok(())
}
