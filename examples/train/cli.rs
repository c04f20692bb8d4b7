//! Command-line options of the training example.

use std::path::PathBuf;
use typenet::Init;

/// What differs between the training examples: their name and the book's recipe for
/// their network.
#[derive(Clone, Debug, PartialEq)]
pub struct Defaults {
    /// The example's name, for `cargo run --example NAME`.
    pub example: &'static str,
    /// How long to train unless told.
    pub length: Length,
    pub optimizer: &'static str,
    /// The learning rate of SGD unless told (the other optimizers have their own).
    pub sgd_lr: f64,
    pub init: Init,
}

/// A training run's length: iterations, or epochs of the training set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Length {
    Iterations(u64),
    Epochs(u64),
}

/// The `--help` text.
pub fn usage(d: &Defaults) -> String {
    let (iters, epochs) = match d.length {
        Length::Iterations(n) => (format!("(default {n})"), "(instead of --iters)".to_string()),
        Length::Epochs(n) => (
            "(instead of --epochs)".to_string(),
            format!("(default {n})"),
        ),
    };
    format!(
        "usage: cargo run --release --example {} -- [options]
  --data DIR           MNIST-format folder (default: the bundled digits in data/)
  --iters N            iterations of a batch of 100 {iters}
  --epochs N           passes over the training set {epochs}
  --lr X               learning rate (default {} for sgd, the book's default otherwise)
  --optimizer NAME     sgd | momentum | adagrad | rmsprop | adam (default {})
  --weight-decay X     the book's L2 weight decay λ on the weights (default 0)
  --init NAME          book (0.01·N(0, 1)) | he | xavier (default {})
  --seed N             seed of the initial weights and of the batches (default 0)
  --out DIR            where weights, checkpoint and curves go (default runs/{})
  --resume FILE        continue from a checkpoint written by an earlier run
  --threads N          1, or 2 to split each step across two threads (build with
                       --features parallel); the same network either way",
        d.example,
        d.sgd_lr,
        d.optimizer,
        init_name(d.init),
        d.example
    )
}

fn init_name(init: Init) -> &'static str {
    match init {
        Init::He => "he",
        Init::Xavier => "xavier",
        _ => "book",
    }
}

/// The options, as given.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub data: PathBuf,
    pub length: Length,
    pub init: Init,
    pub weight_decay: f64,
    pub lr: Option<f64>,
    pub optimizer: String,
    pub seed: u64,
    pub out: PathBuf,
    pub resume: Option<PathBuf>,
    pub threads: usize,
    sgd_lr: f64,
}

impl Options {
    /// The options, or `None` if `--help` was asked for.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        d: &Defaults,
    ) -> Result<Option<Options>, String> {
        let usage = usage(d);
        let mut o = Options {
            data: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data")),
            length: d.length,
            init: d.init,
            weight_decay: 0.0,
            lr: None,
            optimizer: d.optimizer.into(),
            sgd_lr: d.sgd_lr,
            seed: 0,
            out: PathBuf::from(format!("runs/{}", d.example)),
            resume: None,
            threads: 1,
        };
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            if flag == "--help" || flag == "-h" {
                return Ok(None);
            }
            let value = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n{usage}"))?;
            match flag.as_str() {
                "--data" => o.data = value.into(),
                "--iters" => o.length = Length::Iterations(number(&flag, &value)?),
                "--epochs" => o.length = Length::Epochs(number(&flag, &value)?),
                "--init" => {
                    o.init = match value.as_str() {
                        "book" => Init::BOOK,
                        "he" => Init::He,
                        "xavier" => Init::Xavier,
                        _ => return Err(format!("--init takes book, he or xavier, not {value:?}")),
                    }
                }
                "--lr" => {
                    let lr: f64 = number(&flag, &value)?;
                    if !(lr.is_finite() && lr > 0.0) {
                        return Err(format!("--lr must be a positive number, not {value}"));
                    }
                    o.lr = Some(lr);
                }
                "--optimizer" => o.optimizer = value,
                "--weight-decay" => {
                    o.weight_decay = number(&flag, &value)?;
                    if !(o.weight_decay.is_finite() && o.weight_decay >= 0.0) {
                        return Err(format!("--weight-decay must be zero or more, not {value}"));
                    }
                }
                "--seed" => o.seed = number(&flag, &value)?,
                "--out" => o.out = value.into(),
                "--resume" => o.resume = Some(value.into()),
                "--threads" => {
                    o.threads = number(&flag, &value)?;
                    if o.threads == 0 || o.threads > 2 {
                        return Err(format!("--threads takes 1 or 2, not {value}"));
                    }
                    if o.threads == 2 && !cfg!(feature = "parallel") {
                        return Err("--threads 2 needs a build with --features parallel".into());
                    }
                }
                _ => return Err(format!("unknown option {flag}\n{usage}")),
            }
        }
        Ok(Some(o))
    }

    /// The learning rate: as given, or the example's default for SGD, or `None` for the
    /// optimizer's own default.
    pub fn lr(&self) -> Option<f64> {
        self.lr.or((self.optimizer == "sgd").then_some(self.sgd_lr))
    }

    /// Iterations to train for, with `per_epoch` iterations to an epoch.
    pub fn iterations(&self, per_epoch: u64) -> u64 {
        match self.length {
            Length::Iterations(n) => n,
            Length::Epochs(n) => n.saturating_mul(per_epoch),
        }
    }
}

fn number<V: std::str::FromStr>(flag: &str, value: &str) -> Result<V, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} takes a number, not {value:?}"))
}
