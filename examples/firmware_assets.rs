//! Prepares what the Cortex-M firmware embeds: the networks (the MLP trained by `train`, a
//! small CNN trained here, and both quantized to int8), a few test digits, and the host's
//! own outputs for them.
//!
//! ```sh
//! cargo run --release --example train                # writes runs/train/weights.bin
//! cargo run --release --example firmware_assets      # writes examples/firmware/assets/
//! ```
//! Options: `--weights FILE` (default `runs/train/weights.bin`), `--data DIR`,
//! `--out DIR` (default `examples/firmware/assets`), `--count N` (default 10),
//! `--epochs N` for the CNN (default 20), `--calibration N` training images to calibrate
//! the int8 networks on (default 500).
//!
//! Files written (little-endian, no header): `weights.bin` (the MLP's raw parameter file,
//! unchanged), `convnet.bin` (the CNN's), `mlp_int8.bin` and `convnet_int8.bin` (the raw
//! int8 layouts), `digits.bin` (`count` × 784 `f32` pixels, exactly as the host fed them),
//! `digits_int8.bin` (the same quantized: `count` × 784 `i8`), `expected.bin` and
//! `expected_convnet.bin` (`count` × 10 `f32` scores), `expected_mlp_int8.bin` and
//! `expected_convnet_int8.bin` (`count` × 10 `i8` logits), `labels.bin` (`count` bytes).
//! It also prints the accuracy of all four networks on the whole test set.

#[path = "support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::ExitCode;
use typenet::prelude::*;
use typenet::quant::Int8Network;
use typenet::train::{accuracy, Trainer};

network! {
    /// The two-layer net of chapter 5.
    pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}

network! {
    /// A CNN sized for a microcontroller: 5,994 parameters, 322,560 multiply-adds.
    pub struct TinyConvNet< Input<1, 28, 28>, Conv2d<1, 8, 5>, Relu, MaxPool<2>,
                            Conv2d<8, 16, 5>, Relu, MaxPool<2>, Affine<256, 10>, SoftmaxWithLoss >
}

fn main() -> ExitCode {
    support::report(run())
}

struct Options {
    weights: PathBuf,
    data: PathBuf,
    out: PathBuf,
    count: usize,
    epochs: usize,
    calibration: usize,
}

fn options() -> Result<Options, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut o = Options {
        weights: PathBuf::from("runs/train/weights.bin"),
        data: root.join("data"),
        out: root.join("examples/firmware/assets"),
        count: 10,
        epochs: 20,
        calibration: 500,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag} takes a number, not {value:?}"))
        };
        match flag.as_str() {
            "--weights" => o.weights = value.into(),
            "--data" => o.data = value.into(),
            "--out" => o.out = value.into(),
            "--count" => o.count = number()?,
            "--epochs" => o.epochs = number()?,
            "--calibration" => o.calibration = number()?.max(1),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(o)
}

fn run() -> Result<(), String> {
    let o = options()?;
    let mnist = typenet::io::load_mnist::<f32>(&o.data).map_err(|e| e.to_string())?;
    let (x, t) = mnist
        .train
        .check_for::<TwoLayerNet>()
        .map_err(|e| e.to_string())?;
    let (xt, tt) = mnist
        .test
        .check_for::<TwoLayerNet>()
        .map_err(|e| e.to_string())?;
    if o.count > xt.len() {
        return Err(format!(
            "--count {} but the test set has {} digits",
            o.count,
            xt.len()
        ));
    }
    let calibration = &x[..o.calibration.min(x.len())];

    let mlp: TwoLayerNet = typenet::io::load_raw(&o.weights).map_err(|e| e.to_string())?;
    let mlp_int8 = mlp.quantize(calibration).map_err(|e| e.to_string())?;

    // The CNN takes the same 784 pixels per image (as 1×28×28).
    let convnet = {
        let adam = Adam::new(0.001, 0.9, 0.999);
        let mut trainer =
            Trainer::<f32, TinyConvNet, _, 100>::new(TinyConvNet::with_init(Init::He, 0), adam, 0);
        for _ in 0..o.epochs * x.len() / 100 {
            trainer.step(x, &t).map_err(|e| e.to_string())?;
        }
        trainer.into_net()
    };
    let convnet_int8 = convnet.quantize(calibration).map_err(|e| e.to_string())?;
    if mlp_int8.input != convnet_int8.input {
        return Err("the two int8 networks quantize their inputs differently".into());
    }

    let int8_accuracy = |classify: &dyn Fn(&[f32; 784]) -> usize| {
        let hits = xt
            .iter()
            .zip(&tt)
            .filter(|(x, t)| classify(x) == t.index())
            .count();
        hits as f32 / xt.len() as f32
    };
    println!(
        "accuracy on the {} test digits: MLP f32 {:.4}, int8 {:.4}; CNN f32 {:.4}, int8 {:.4}",
        xt.len(),
        accuracy(&mlp, xt, &tt),
        int8_accuracy(&|x| mlp_int8.classify(&mlp_int8.quantize_input(x))),
        accuracy(&*convnet, xt, &tt),
        int8_accuracy(&|x| convnet_int8.classify(&convnet_int8.quantize_input(x))),
    );

    let mut files: Vec<(&str, Vec<u8>)> = vec![
        ("labels.bin", Vec::new()),
        ("digits.bin", Vec::new()),
        ("digits_int8.bin", Vec::new()),
        ("expected.bin", Vec::new()),
        ("expected_mlp_int8.bin", Vec::new()),
        ("expected_convnet.bin", Vec::new()),
        ("expected_convnet_int8.bin", Vec::new()),
    ];
    for (xi, ti) in xt.iter().zip(&tt).take(o.count) {
        let q = mlp_int8.quantize_input(xi);
        let outputs = [
            vec![ti.index() as u8],
            f32_bytes(xi),
            q.iter().map(|v| *v as u8).collect(),
            f32_bytes(&mlp.predict(std::array::from_ref(xi))[0]),
            mlp_int8.predict(&q).iter().map(|v| *v as u8).collect(),
            f32_bytes(&convnet.predict(std::array::from_ref(xi))[0]),
            convnet_int8.predict(&q).iter().map(|v| *v as u8).collect(),
        ];
        for ((_, file), bytes) in files.iter_mut().zip(outputs) {
            file.extend(bytes);
        }
        println!(
            "label {} → MLP {} (int8 {}), CNN {} (int8 {})",
            ti.index(),
            mlp.classify(std::array::from_ref(xi))[0],
            mlp_int8.classify(&q),
            convnet.classify(std::array::from_ref(xi))[0],
            convnet_int8.classify(&q),
        );
    }
    let raw_mlp = std::fs::read(&o.weights).map_err(|e| format!("{}: {e}", o.weights.display()))?;
    files.push(("weights.bin", raw_mlp));
    files.push(("convnet.bin", f32_bytes(convnet.to_flat().as_ref())));
    files.push(("mlp_int8.bin", int8_bytes(&mlp_int8)));
    files.push(("convnet_int8.bin", int8_bytes(&convnet_int8)));

    std::fs::create_dir_all(&o.out).map_err(|e| format!("{}: {e}", o.out.display()))?;
    for (name, bytes) in &files {
        typenet::io::write_atomically(o.out.join(name), bytes).map_err(|e| e.to_string())?;
    }
    println!(
        "wrote {} digits, the host's outputs for them and four networks to {}",
        o.count,
        o.out.display()
    );
    Ok(())
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn int8_bytes<N: Int8Network>(net: &N) -> Vec<u8> {
    let mut bytes = vec![0; N::BYTES];
    net.write_le_bytes(&mut bytes);
    bytes
}
