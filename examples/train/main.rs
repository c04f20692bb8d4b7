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

use cli::Options;
use indicatif::{ProgressBar, ProgressStyle};
use plot::Epoch;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;
use typenet::prelude::*;
use typenet::{io, train};

network! {
    /// The two-layer net of chapter 5.
    pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}

type Net = TwoLayerNet<f32>;

/// `println!` that ends the program quietly when stdout is closed (`… | head`), as a
/// command-line tool should, instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}
const BATCH: usize = 100;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let Some(opts) = Options::parse(std::env::args().skip(1))? else {
        say!("{}", cli::USAGE);
        return Ok(());
    };
    // Batches are drawn from the images as bytes (a quarter of the memory traffic of f32)
    // and scaled as they are drawn; accuracy is measured on the same images scaled once.
    let mnist = io::load_mnist_pixels(&opts.data).map_err(|e| e.to_string())?;
    let (train_set, test_set) = (mnist.train.scaled::<f32>(), mnist.test.scaled::<f32>());
    let (pixels, _) = mnist
        .train
        .pixels_for::<f32, Net>()
        .map_err(|e| format!("{} (training set): {e}", opts.data.display()))?;
    let (x_train, t_train) = train_set
        .check_for::<Net>()
        .map_err(|e| format!("{} (training set): {e}", opts.data.display()))?;
    let (x_test, t_test) = test_set
        .check_for::<Net>()
        .map_err(|e| format!("{} (test set): {e}", opts.data.display()))?;

    let mut optimizer =
        AnyOptimizer::<f32, Net>::by_name(&opts.optimizer, opts.lr()).ok_or_else(|| {
            format!(
                "unknown optimizer {:?}; choose one of {}",
                opts.optimizer,
                AnyOptimizer::<f32, Net>::NAMES.join(", ")
            )
        })?;
    let lr = *optimizer.lr_mut();
    // A learning rate that is finite in f64 may not be in f32 (1e39 is infinite there).
    Optimizer::<f32, Net>::validate(&optimizer).map_err(|e| {
        let given = opts
            .lr()
            .map_or_else(|| lr.to_string(), |v| format!("{v:?}"));
        format!("--lr {given}: {e} in f32")
    })?;
    let mut trainer = match &opts.resume {
        Some(path) => {
            let ckpt = io::load_checkpoint(path, &mut optimizer).map_err(|e| e.to_string())?;
            train::Trainer::<f32, Net, _, BATCH>::resume(
                ckpt.net,
                optimizer,
                ckpt.iteration,
                ckpt.rng,
            )
        }
        None => train::Trainer::new(Net::new(opts.seed), optimizer, opts.seed),
    };
    std::fs::create_dir_all(&opts.out).map_err(|e| format!("{}: {e}", opts.out.display()))?;

    let iter_per_epoch = (x_train.len() / BATCH).max(1) as u64;
    say!(
        "{}: {} → {} train / {} test samples from {}",
        <Net as Network<f32>>::NAME,
        Net::LAYERS.join(" → "),
        x_train.len(),
        x_test.len(),
        opts.data.display()
    );
    say!(
        "{} iterations of batch {BATCH} ({iter_per_epoch} per epoch), optimizer {} lr {lr}, seed {}{}",
        opts.iters,
        opts.optimizer,
        opts.seed,
        match (&opts.resume, trainer.iteration()) {
            (Some(p), i) => format!(", resumed at iteration {i} from {}", p.display()),
            _ => String::new(),
        }
    );

    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(opts.iters);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40.cyan/blue} {pos}/{len} it  {per_sec}  eta {eta}  {msg}",
            )
            .map_err(|e| e.to_string())?,
        );
        bar.set_position(trainer.iteration());
        bar
    } else {
        ProgressBar::hidden()
    };

    let start = Instant::now();
    let mut epochs: Vec<Epoch> = Vec::new();
    let checkpoint = opts.out.join("checkpoint.safetensors");
    let mut checkpointed = false;
    let mut train_loop = || -> Result<(), String> {
        let (mut loss_sum, mut loss_count) = (0.0f64, 0u64);
        while trainer.iteration() < opts.iters {
            let loss = trainer.step(&pixels, &t_train).map_err(|e| e.to_string())?;
            loss_sum += f64::from(loss);
            loss_count += 1;
            bar.inc(1);
            let i = trainer.iteration();
            if i % iter_per_epoch == 0 || i == opts.iters {
                let e = Epoch {
                    number: i.div_ceil(iter_per_epoch),
                    iteration: i,
                    loss: loss_sum / loss_count as f64,
                    train_acc: f64::from(train::accuracy(trainer.net(), x_train, &t_train)),
                    test_acc: f64::from(train::accuracy(trainer.net(), x_test, &t_test)),
                };
                (loss_sum, loss_count) = (0.0, 0);
                let line = format!(
                    "epoch {:>3}  iter {i:>6}  loss {:.4}  train acc {:.4}  test acc {:.4}",
                    e.number, e.loss, e.train_acc, e.test_acc
                );
                bar.set_message(format!("test acc {:.4}", e.test_acc));
                bar.println(&line);
                if bar.is_hidden() {
                    say!("{line}");
                }
                epochs.push(e);
                io::save_checkpoint(
                    &checkpoint,
                    trainer.net(),
                    trainer.optimizer(),
                    i,
                    trainer.rng(),
                )
                .map_err(|e| e.to_string())?;
                checkpointed = true;
            }
        }
        Ok(())
    };
    // With `--threads 2`, the loop runs inside `keep_awake`: each step splits across two
    // threads, and trains the same network.
    #[cfg(feature = "parallel")]
    if opts.threads == 2 {
        typenet::parallel::keep_awake(train_loop)?;
    } else {
        train_loop()?;
    }
    #[cfg(not(feature = "parallel"))]
    train_loop()?;
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();

    let net = trainer.net();
    io::save_safetensors(net, opts.out.join("weights.safetensors")).map_err(|e| e.to_string())?;
    io::save_raw(net, opts.out.join("weights.bin")).map_err(|e| e.to_string())?;
    let data_name = opts.data.file_name().unwrap_or(opts.data.as_os_str());
    let title = format!(
        "{} on {} — {}, lr {lr}",
        <Net as Network<f32>>::NAME,
        data_name.to_string_lossy(),
        opts.optimizer
    );
    io::write_atomically(
        opts.out.join("curves.svg"),
        plot::svg(&title, &epochs).as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    io::write_atomically(opts.out.join("curves.csv"), plot::csv(&epochs).as_bytes())
        .map_err(|e| e.to_string())?;

    let test_acc = train::accuracy(net, x_test, &t_test);
    let train_acc = train::accuracy(net, x_train, &t_train);
    say!("train accuracy {train_acc:.4}, test accuracy {test_acc:.4} ({seconds:.1} s)");
    let mut files = vec!["weights.safetensors", "weights.bin"];
    if checkpointed {
        files.push("checkpoint.safetensors");
    }
    files.extend(["curves.svg", "curves.csv"]);
    let out = opts.out.display();
    let files: Vec<String> = files.iter().map(|f| format!("{out}/{f}")).collect();
    say!("wrote {}", files.join(", "));
    Ok(())
}
