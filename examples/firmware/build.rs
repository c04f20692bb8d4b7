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
        "assets/mlp_int8.bin",
        "assets/convnet.bin",
        "assets/convnet_int8.bin",
        "assets/digits_int8.bin",
        "assets/expected_mlp_int8.bin",
        "assets/expected_convnet.bin",
        "assets/expected_convnet_int8.bin",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
}
