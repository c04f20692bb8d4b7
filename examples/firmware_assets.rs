//! Prepares what the Cortex-M firmware embeds: weights trained on the host, a few test
//! digits, and the host's own scores for them.
//!
//! ```sh
//! cargo run --release --example train                # writes runs/train/weights.bin
//! cargo run --release --example firmware_assets      # writes examples/firmware/assets/
//! ```
//! Options: `--weights FILE` (default `runs/train/weights.bin`), `--data DIR`,
//! `--out DIR` (default `examples/firmware/assets`), `--count N` (default 10).
//!
//! Files written (all little-endian `f32`, no header): `weights.bin` (the raw parameter
//! file, unchanged), `digits.bin` (`count` × 784 pixel values, exactly as the host fed
//! them to the network), `expected.bin` (`count` × 10 scores the host computed), and
//! `labels.bin` (`count` bytes, the true classes).

#[path = "support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::ExitCode;
use typenet::prelude::*;

network! {
    /// The two-layer net of chapter 5.
    pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}

fn main() -> ExitCode {
    support::report(run())
}

fn run() -> Result<(), String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut weights = PathBuf::from("runs/train/weights.bin");
    let mut data = root.join("data");
    let mut out = root.join("examples/firmware/assets");
    let mut count = 10usize;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--weights" => weights = value.into(),
            "--data" => data = value.into(),
            "--out" => out = value.into(),
            "--count" => {
                count = value
                    .parse()
                    .map_err(|_| format!("--count takes a number, not {value:?}"))?
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    let net: TwoLayerNet<f32> = typenet::io::load_raw(&weights).map_err(|e| e.to_string())?;
    let mnist = typenet::io::load_mnist::<f32>(&data).map_err(|e| e.to_string())?;
    let (x, t) = mnist
        .test
        .check_for::<TwoLayerNet<f32>>()
        .map_err(|e| e.to_string())?;
    if count > x.len() {
        return Err(format!(
            "--count {count} but the test set has {} digits",
            x.len()
        ));
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let (mut digits, mut expected, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    for (xi, ti) in x.iter().zip(&t).take(count) {
        let scores = net.predict(std::array::from_ref(xi))[0];
        digits.extend(xi.iter().flat_map(|v| v.to_le_bytes()));
        expected.extend(scores.iter().flat_map(|v| v.to_le_bytes()));
        labels.push(ti.index() as u8);
        println!(
            "label {} → host predicts {}",
            ti.index(),
            typenet::argmax(&scores)
        );
    }
    let write = |name: &str, bytes: &[u8]| {
        typenet::io::write_atomically(out.join(name), bytes).map_err(|e| e.to_string())
    };
    let raw = std::fs::read(&weights).map_err(|e| format!("{}: {e}", weights.display()))?;
    write("weights.bin", &raw)?;
    write("digits.bin", &digits)?;
    write("expected.bin", &expected)?;
    write("labels.bin", &labels)?;
    println!(
        "wrote {count} digits, their host scores and the weights to {}",
        out.display()
    );
    Ok(())
}
