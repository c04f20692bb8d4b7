//! Chapter 7's training run: the book's `SimpleConvNet` on real handwritten digits.
//!
//! `cargo run --release --example train_convnet` trains with the book's `train_convnet.py`
//! recipe: 20 epochs of random batches of 100, Adam with learning rate 0.001, `0.01·N(0, 1)`
//! weights (`--init he` for He), and prints the loss and train/test accuracy once per
//! epoch. It takes the options of the `train` example (`--help` lists them) and writes the
//! same files, under `runs/train_convnet` by default.

#[path = "../train/cli.rs"]
mod cli;
#[path = "../train/plot.rs"]
mod plot;
#[path = "../train/run.rs"]
mod run;
#[path = "../support/mod.rs"]
mod support;

use cli::{Defaults, Length};
use std::process::ExitCode;
use typenet::prelude::*;

network! {
    /// The book's SimpleConvNet (chapter 7): one convolution of 30 5×5 filters, ReLU, 2×2
    /// max pooling, then two affine layers.
    pub struct SimpleConvNet< Input<1, 28, 28>, Conv2d<1, 30, 5>, Relu, MaxPool<2>,
                              Affine<4320, 100>, Relu, Affine<100, 10>, SoftmaxWithLoss >
}

fn main() -> ExitCode {
    run::main::<SimpleConvNet<f32>>(Defaults {
        example: "train_convnet",
        length: Length::Epochs(20),
        optimizer: "adam",
        sgd_lr: 0.01,
        init: Init::BOOK,
    })
}
