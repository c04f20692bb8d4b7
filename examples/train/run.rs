//! The training loop both training examples run: options, the trainer, a progress bar,
//! per-epoch accuracy, and the files (weights, raw weights, checkpoint, curves).

use crate::cli::{self, Defaults, Options};
use crate::plot::{self, Epoch};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;
use typenet::data::{Pixels, Samples};
use typenet::optim::WeightDecay;
use typenet::prelude::*;
use typenet::{io, train};

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

/// Samples per training batch (the book's).
pub const BATCH: usize = 100;

/// Parses the command line and trains `N`; a one-line error and exit code 1 on failure.
///
/// Runs on a thread with a large stack: a convolutional network, its optimizer state and
/// its activations are megabytes each, and values on their way to the heap may pass through
/// the stack.
pub fn main<N>(defaults: Defaults) -> ExitCode
where
    for<'a> Pixels<'a, N::Sample>: Samples<N::Sample>,
    // `Send` and `Sync` for `--threads 2`, whose loop runs inside `parallel::keep_awake`.
    N: Network<f32> + Send + Sync,
    N::Cache<BATCH>: Send,
    N::Label: Send + Sync,
{
    let outcome = std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || run::<N>(&defaults))
        .map_err(|e| e.to_string())
        .and_then(|thread| {
            thread
                .join()
                .map_err(|_| "the training thread panicked".to_string())
        })
        .and_then(|r| r);
    crate::support::report(outcome)
}

fn run<N>(defaults: &Defaults) -> Result<(), String>
where
    for<'a> Pixels<'a, N::Sample>: Samples<N::Sample>,
    // `Send` and `Sync` for `--threads 2`, whose loop runs inside `parallel::keep_awake`.
    N: Network<f32> + Send + Sync,
    N::Cache<BATCH>: Send,
    N::Label: Send + Sync,
{
    let Some(opts) = Options::parse(std::env::args().skip(1), defaults)? else {
        say!("{}", cli::usage(defaults));
        return Ok(());
    };
    // Batches are drawn from the images as bytes (a quarter of the memory traffic of f32)
    // and scaled as they are drawn; accuracy is measured on the same images scaled once.
    let mnist = io::load_mnist_pixels(&opts.data).map_err(|e| e.to_string())?;
    let (train_set, test_set) = (mnist.train.scaled::<f32>(), mnist.test.scaled::<f32>());
    let (pixels, _) = mnist
        .train
        .pixels_for::<f32, N>()
        .map_err(|e| format!("{} (training set): {e}", opts.data.display()))?;
    let (x_train, t_train) = train_set
        .check_for::<N>()
        .map_err(|e| format!("{} (training set): {e}", opts.data.display()))?;
    let (x_test, t_test) = test_set
        .check_for::<N>()
        .map_err(|e| format!("{} (test set): {e}", opts.data.display()))?;

    let optimizer =
        AnyOptimizer::<f32, N>::by_name(&opts.optimizer, opts.lr()).ok_or_else(|| {
            format!(
                "unknown optimizer {:?}; choose one of {}",
                opts.optimizer,
                AnyOptimizer::<f32, N>::NAMES.join(", ")
            )
        })?;
    // λ = 0 unless `--weight-decay` is given: then the step is the optimizer's own.
    let mut optimizer = WeightDecay::new(optimizer, opts.weight_decay as f32);
    let lr = *optimizer.inner.lr_mut();
    // A learning rate that is finite in f64 may not be in f32 (1e39 is infinite there).
    Optimizer::<f32, N>::validate(&optimizer).map_err(|e| {
        let given = opts
            .lr()
            .map_or_else(|| lr.to_string(), |v| format!("{v:?}"));
        format!("--lr {given}: {e} in f32")
    })?;
    let mut trainer = match &opts.resume {
        Some(path) => {
            let ckpt = io::load_checkpoint(path, &mut optimizer).map_err(|e| e.to_string())?;
            train::Trainer::<f32, N, _, BATCH>::resume(
                ckpt.net,
                optimizer,
                ckpt.iteration,
                ckpt.rng,
            )
        }
        None => {
            let mut net = N::zeros();
            opts.init.apply(&mut net, &mut Rng::new(opts.seed));
            train::Trainer::<f32, N, _, BATCH>::new(net, optimizer, opts.seed)
        }
    };
    std::fs::create_dir_all(&opts.out).map_err(|e| format!("{}: {e}", opts.out.display()))?;

    let iter_per_epoch = (x_train.len() / BATCH).max(1) as u64;
    let iters = opts.iterations(iter_per_epoch);
    say!(
        "{}: {} → {} train / {} test samples from {}",
        <N as Network<f32>>::NAME,
        <N as Network<f32>>::LAYERS.join(" → "),
        x_train.len(),
        x_test.len(),
        opts.data.display()
    );
    say!(
        "{} iterations of batch {BATCH} ({iter_per_epoch} per epoch), optimizer {} lr {lr}, weight decay {}, init {:?}, seed {}{}",
        iters,
        opts.optimizer,
        opts.weight_decay,
        opts.init,
        opts.seed,
        match (&opts.resume, trainer.iteration()) {
            (Some(p), i) => format!(", resumed at iteration {i} from {}", p.display()),
            _ => String::new(),
        }
    );

    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(iters);
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
        while trainer.iteration() < iters {
            let loss = trainer.step(&pixels, &t_train).map_err(|e| e.to_string())?;
            loss_sum += f64::from(loss);
            loss_count += 1;
            bar.inc(1);
            let i = trainer.iteration();
            if i % iter_per_epoch == 0 || i == iters {
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
        <N as Network<f32>>::NAME,
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
