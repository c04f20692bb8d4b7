//! Puts `memory.x` where cortex-m-rt's `link.x` finds it, and rebuilds when assets change.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy("memory.x", out.join("memory.x")).expect("memory.x is beside Cargo.toml");
    println!("cargo:rustc-link-search={}", out.display());
    for f in [
        "memory.x",
        "assets/weights.bin",
        "assets/digits.bin",
        "assets/expected.bin",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
}
