//! typenet's side of the SimpleConvNet speed comparison (run it through `bench/convnet.sh`).
//!
//! Trains the book's SimpleConvNet (Adam, learning rate 0.001, `0.01·N(0, 1)` weights) for
//! `--steps` batches of 100, batch `k` being training samples `100·k ..` (wrapping), the
//! batches `bench/torch_convnet.py` takes too; then times single-sample prediction. Prints
//! one JSON line with the medians of `--repeat` runs.
//!
//! `cargo run --release --example speed_convnet -- --data DIR [--steps N] [--repeat N]`

#[path = "support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use typenet::prelude::*;

network! {
    /// The book's SimpleConvNet (chapter 7).
    pub struct SimpleConvNet< Input<1, 28, 28>, Conv2d<1, 30, 5>, Relu, MaxPool<2>,
                              Affine<4320, 100>, Relu, Affine<100, 10>, SoftmaxWithLoss >
}
type Net = SimpleConvNet<f32>;
const BATCH: usize = 100;

fn main() -> ExitCode {
    support::report(run())
}

fn run() -> Result<(), String> {
    let (mut data, mut steps, mut repeat) = (PathBuf::from("data"), 200usize, 3usize);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag} takes a number"))
        };
        match flag.as_str() {
            "--data" => data = value.clone().into(),
            "--steps" => steps = number()?,
            "--repeat" => repeat = number()?.max(1),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    let mnist = typenet::io::load_mnist::<f32>(&data).map_err(|e| e.to_string())?;
    let (x, t) = mnist.train.check_for::<Net>().map_err(|e| e.to_string())?;
    if x.len() < BATCH {
        return Err(format!(
            "{}: fewer than {BATCH} training samples",
            data.display()
        ));
    }
    let batches = x.len() / BATCH;
    let mut xb = Box::new([[0.0f32; 784]; BATCH]);
    let mut tb = [Class::<10>::new(0).ok_or("10 classes")?; BATCH];
    let (mut step_ms, mut last_loss) = (Vec::new(), 0.0);
    for _ in 0..repeat {
        let mut net = Box::new(Net::new(0));
        let mut grads = Box::new(Net::zeros());
        let mut cache = Box::new(Net::new_cache::<BATCH>());
        let mut adam = Box::new(Adam::<f32, Net>::new(0.001, 0.9, 0.999));
        let start = Instant::now();
        for k in 0..steps {
            let at = (k % batches) * BATCH;
            xb.copy_from_slice(&x[at..at + BATCH]);
            tb.copy_from_slice(&t[at..at + BATCH]);
            last_loss = net.gradient(&xb, &tb, &mut cache, &mut grads);
            adam.step(&mut net, &grads);
        }
        step_ms.push(start.elapsed().as_secs_f64() * 1e3 / steps.max(1) as f64);
    }
    let net = Box::new(Net::new(0));
    let mut predict_us = Vec::new();
    for _ in 0..repeat {
        let n = 2000;
        let start = Instant::now();
        for s in x.iter().take(n) {
            let one = std::hint::black_box(core::array::from_ref(s));
            std::hint::black_box(net.predict(one));
        }
        predict_us.push(start.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    let kernel = typenet::kernels::Kernel::detect().name();
    println!(
        "{{\"name\": \"typenet ({kernel})\", \"step_ms\": {:.3}, \"predict_us\": {:.2}, \"steps\": {steps}, \"last_loss\": {last_loss:.4}}}",
        support::median(step_ms),
        support::median(predict_us)
    );
    Ok(())
}
