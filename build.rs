//! Sets `typenet_dsp` on Cortex-M4/M7 targets (`thumbv7em-*`, which always have the DSP
//! extension), for the int8 kernels' `SMLAD` path. Stable Rust has no `target_feature`
//! cfg for it.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(typenet_dsp)");
    println!("cargo::rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv7em-") {
        println!("cargo::rustc-cfg=typenet_dsp");
    }
}
