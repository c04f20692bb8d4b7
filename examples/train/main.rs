//! Chapter 5's training run: the book's two-layer net on real handwritten digits.
//!
//! `cargo run --release --example train` trains on the bundled digits with the book's
//! recipe (10,000 iterations, random batches of 100, SGD with learning rate 0.1,
//! `0.01·N(0, 1)` weights) and prints the loss and train/test accuracy once per epoch.
//! It writes, under `--out` (default `runs/train`): `weights.safetensors` (for NumPy and
//! PyTorch), `weights.bin` (raw little-endian, for `from_le_bytes` in firmware),
//! `checkpoint.safetensors` (to `--resume`), `curves.svg` and `curves.csv`.
//! `--help` lists the options.

mod cli;
mod plot;
mod run;
#[path = "../support/mod.rs"]
mod support;

use cli::{Defaults, Length};
use std::process::ExitCode;
use typenet::prelude::*;

network! {
    /// The two-layer net of chapter 5.
    pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}

fn main() -> ExitCode {
    run::main::<TwoLayerNet<f32>>(Defaults {
        example: "train",
        length: Length::Iterations(10_000),
        optimizer: "sgd",
        sgd_lr: 0.1,
        init: Init::BOOK,
    })
}
