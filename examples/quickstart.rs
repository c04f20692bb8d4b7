//! The README's "use it in your crate" example: declare a network, train it on MNIST-format
//! files, save it, load it back and predict. `cargo run --release --example quickstart`.

use typenet::io;
use typenet::prelude::*;

network! {
    /// 784 pixels in, 10 digits out.
    pub struct Digits< Affine<784, 100>, Relu, Affine<100, 10>, SoftmaxWithLoss >
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // MNIST-format files: here the digits bundled with typenet.
    let mnist = io::load_mnist::<f32>("data")?;
    let (x, t) = mnist.train.check_for::<Digits>()?;
    let (x_test, t_test) = mnist.test.check_for::<Digits>()?;

    // Train with batches of 100 and Adam.
    let net = Digits::<f32>::with_init(Init::He, 1);
    let mut trainer = Trainer::<f32, _, _, 100>::new(net, Adam::default(), 1);
    for _ in 0..2_000 {
        trainer.step(x, &t)?;
    }
    let accuracy = trainer.net().accuracy_of(x_test, &t_test)?;
    println!("test accuracy {accuracy:.3}");

    // Save, load back, predict.
    io::save_safetensors(trainer.net(), "digits.safetensors")?;
    let net: Digits = io::load_safetensors("digits.safetensors")?;
    let class = net.classify(&[x_test[0]])[0];
    println!(
        "the first test digit is a {class} (label {})",
        t_test[0].index()
    );
    Ok(())
}
