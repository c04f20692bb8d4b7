//! typenet's side of the speed comparison in `bench/` (run it through `bench/run.sh`).
//!
//! Trains the book's network with the book's recipe on the batches listed in a shared file
//! (so every implementation sees the same batches in the same order), then times
//! single-sample prediction. Prints one JSON line.
//!
//! `cargo run --release --example speed -- --data DIR --batches FILE [--repeat N] [--pixels yes]
//! [--threads 2]`; `--write-batches FILE` writes the batch file (10,000 × 100 indices, `u32`
//! LE) first. `--threads 2` (build with `--features parallel`, and let rayon have two threads)
//! runs the training loop inside [`typenet::parallel::keep_awake`], so its kernels split
//! across two threads; the trained network is the same, bit for bit.
//! With `--pixels yes`, batches are drawn from the images as bytes and scaled as they are
//! drawn ([`typenet::data::Pixels`]) instead of copied from `f32` samples; the values, and
//! so the trained network, are the same.

#[path = "support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use typenet::data::Samples;
use typenet::prelude::*;

network! {
    /// The two-layer net of chapter 5.
    pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}
type Net = TwoLayerNet<f32>;
const ITERS: usize = 10_000;
const BATCH: usize = 100;

fn main() -> ExitCode {
    support::report(run())
}

fn run() -> Result<(), String> {
    let (mut data, mut batches, mut write, mut repeat, mut bytes, mut threads) =
        (PathBuf::from("data"), None, None, 3usize, false, 1usize);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data" => data = value.into(),
            "--batches" => batches = Some(PathBuf::from(value)),
            "--write-batches" => write = Some(PathBuf::from(value)),
            "--repeat" => repeat = value.parse().map_err(|_| "--repeat takes a number")?,
            "--pixels" => bytes = value == "yes",
            "--threads" => threads = value.parse().map_err(|_| "--threads takes 1 or 2")?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    let raw = typenet::io::load_mnist_pixels(&data).map_err(|e| e.to_string())?;
    let (train, test) = (raw.train.scaled::<f32>(), raw.test.scaled::<f32>());
    let (x, t) = train.check_for::<Net>().map_err(|e| e.to_string())?;
    let (xt, tt) = test.check_for::<Net>().map_err(|e| e.to_string())?;
    let (pixels, _) = raw
        .train
        .pixels_for::<f32, Net>()
        .map_err(|e| e.to_string())?;
    if let Some(path) = write {
        let mut rng = Rng::new(0);
        let bytes: Vec<u8> = (0..ITERS * BATCH)
            .flat_map(|_| (rng.below(x.len()) as u32).to_le_bytes())
            .collect();
        typenet::io::write_atomically(&path, &bytes).map_err(|e| e.to_string())?;
    }
    if threads != 1 && !cfg!(feature = "parallel") {
        return Err("--threads 2 needs --features parallel".into());
    }
    let path = batches.ok_or("--batches FILE is required")?;
    let raw = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let index: Vec<usize> = raw
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    if index.len() != ITERS * BATCH || index.iter().any(|&i| i >= x.len()) {
        return Err(format!(
            "{}: not {ITERS}×{BATCH} indices below {}",
            path.display(),
            x.len()
        ));
    }

    let mut xb = Box::new([[0.0f32; 784]; BATCH]);
    let mut tb = [t[0]; BATCH];
    let mut cache = Box::new(Net::new_cache::<BATCH>());
    let mut grads = Box::new(Net::zeros());
    let mut times = Vec::new();
    let mut net = Box::new(Net::new(0));
    let mut train = || -> Result<(), String> {
        for _ in 0..repeat {
            *net = Net::new(0);
            let mut opt = Sgd::new(0.1f32);
            let start = Instant::now();
            for batch in index.chunks_exact(BATCH) {
                // What `Trainer::step` does: touch the batch's samples so that their cache
                // misses overlap, then copy them (on two threads inside `keep_awake`).
                let found = if bytes {
                    pixels.gather(batch, &mut xb[..])
                } else {
                    x.gather(batch, &mut xb[..])
                };
                if !found {
                    return Err("a batch index past the data".into());
                }
                for (tr, &i) in tb.iter_mut().zip(batch) {
                    *tr = t[i];
                }
                net.gradient(&xb, &tb, &mut cache, &mut grads);
                opt.step(&mut *net, &grads);
            }
            times.push(start.elapsed().as_secs_f64());
        }
        Ok(())
    };
    #[cfg(feature = "parallel")]
    if threads > 1 {
        typenet::parallel::keep_awake(train)?;
    } else {
        train()?;
    }
    #[cfg(not(feature = "parallel"))]
    train()?;
    let accuracy = typenet::train::accuracy(&*net, xt, &tt);

    let mut predict = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let mut sink = 0usize;
        for xi in xt.iter().take(1000) {
            sink +=
                typenet::argmax(&net.predict(std::array::from_ref(std::hint::black_box(xi)))[0]);
        }
        std::hint::black_box(sink);
        predict.push(start.elapsed().as_secs_f64() / 1000.0 * 1e6);
    }
    println!(
        "{{\"name\": \"typenet ({}{}{})\", \"train_s\": {:.3}, \"predict_us\": {:.3}, \"test_acc\": {:.4}}}",
        typenet::kernels::Kernel::detect().name(),
        if bytes { ", u8 pixels" } else { "" },
        if threads > 1 { ", 2 threads" } else { "" },
        support::median(times),
        support::median(predict),
        accuracy
    );
    Ok(())
}
