//! The book's `SimpleConvNet` trained with its `train_convnet.py` recipe (Adam, learning
//! rate 0.001, random batches of 100, `0.01·N(0, 1)` weights) on real images.

use crate::common::{bundled, on_large_stack};
use std::path::PathBuf;
use typenet::io;
use typenet::prelude::*;
use typenet::train::{accuracy, Trainer};

network! {
    /// The book's SimpleConvNet (chapter 7).
    pub struct SimpleConvNet< Input<1, 28, 28>, Conv2d<1, 30, 5>, Relu, MaxPool<2>,
                              Affine<4320, 100>, Relu, Affine<100, 10>, SoftmaxWithLoss >
}
type Net = SimpleConvNet<f32>;

/// Trains for `epochs` passes over `data.train`; returns the test accuracy, and that of the
/// network quantized to int8 (calibrated on 500 training images).
fn train_convnet(data: &io::Mnist<f32>, epochs: u64) -> (f32, f32) {
    on_large_stack(|| {
        let (x, t) = data.train.check_for::<Net>().unwrap();
        let (xt, tt) = data.test.check_for::<Net>().unwrap();
        let adam = Adam::new(0.001, 0.9, 0.999);
        let mut trainer = Trainer::<f32, Net, _, 100>::new(Net::new(0), adam, 0);
        for _ in 0..epochs * (x.len() / 100) as u64 {
            trainer.step(x, &t).unwrap();
        }
        let int8 = trainer.net().quantize(&x[..500]).unwrap();
        let hits = xt
            .iter()
            .zip(&tt)
            .filter(|(x, t)| int8.classify(&int8.quantize_input(*x)) == t.index())
            .count();
        (
            accuracy(trainer.net(), xt, &tt),
            hits as f32 / xt.len() as f32,
        )
    })
}

/// 20 epochs of the 8,000 bundled training digits: 1,600 steps. PyTorch, with the same
/// recipe and steps, reaches 0.9725; this reaches 0.9735 with seed 0, and 0.9690 and 0.9715
/// with seeds 1 and 2 (AVX-512 kernels). Another machine's kernels round differently, so the
/// bar sits below that spread. Not repeated in the two-thread build of the suite: convolution
/// runs on one thread.
#[test]
#[cfg_attr(feature = "parallel", ignore = "the one-thread build runs it")]
fn simple_conv_net_reaches_0965_on_the_bundled_digits_and_int8_keeps_it() {
    let (test, int8) = train_convnet(&bundled::<f32>(), 20);
    println!("SimpleConvNet, bundled digits: test {test:.4}, int8 {int8:.4}");
    assert!(test >= 0.965, "test accuracy {test}");
    assert!((test - int8).abs() <= 0.005, "f32 {test}, int8 {int8}");
}

/// The full Fashion-MNIST set (`apt-get install dataset-fashion-mnist`), 7 epochs (4,200
/// steps). Run in release: `cargo test --release --test suite -- --ignored convnet`.
#[test]
#[ignore = "needs /usr/share/datasets/fashion-mnist (60,000 images); .ci/run runs it in release mode"]
fn simple_conv_net_reaches_089_on_fashion_mnist() {
    let dir = std::env::var_os("TYPENET_FASHION_MNIST").map_or_else(
        || PathBuf::from("/usr/share/datasets/fashion-mnist"),
        PathBuf::from,
    );
    let data = io::load_mnist::<f32>(&dir).unwrap_or_else(|e| panic!("{e}"));
    let (test, int8) = train_convnet(&data, 7);
    println!("SimpleConvNet, Fashion-MNIST: test {test:.4}, int8 {int8:.4}");
    assert!(test >= 0.89, "test accuracy {test}");
}
