//! Command-line options of the training example.

use std::path::PathBuf;

pub const USAGE: &str = "usage: cargo run --release --example train -- [options]
  --data DIR           MNIST-format folder (default: the bundled digits in data/)
  --iters N            iterations (default 10000)
  --lr X               learning rate (default 0.1 for sgd, the book's default otherwise)
  --optimizer NAME     sgd | momentum | adagrad | rmsprop | adam (default sgd)
  --seed N             seed of the initial weights and of the batches (default 0)
  --out DIR            where weights, checkpoint and curves go (default runs/train)
  --resume FILE        continue from a checkpoint written by an earlier run
  --threads N          1, or 2 to split each step across two threads (build with
                       --features parallel); the same network either way";

/// The options, as given.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub data: PathBuf,
    pub iters: u64,
    pub lr: Option<f64>,
    pub optimizer: String,
    pub seed: u64,
    pub out: PathBuf,
    pub resume: Option<PathBuf>,
    pub threads: usize,
}

impl Options {
    /// The options, or `None` if `--help` was asked for.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
        let mut o = Options {
            data: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data")),
            iters: 10_000,
            lr: None,
            optimizer: "sgd".into(),
            seed: 0,
            out: PathBuf::from("runs/train"),
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
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
            match flag.as_str() {
                "--data" => o.data = value.into(),
                "--iters" => o.iters = number(&flag, &value)?,
                "--lr" => {
                    let lr: f64 = number(&flag, &value)?;
                    if !(lr.is_finite() && lr > 0.0) {
                        return Err(format!("--lr must be a positive number, not {value}"));
                    }
                    o.lr = Some(lr);
                }
                "--optimizer" => o.optimizer = value,
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
                _ => return Err(format!("unknown option {flag}\n{USAGE}")),
            }
        }
        Ok(Some(o))
    }

    /// The learning rate: as given, or the book's chapter 5 value 0.1 for SGD, or `None`
    /// for the optimizer's own default.
    pub fn lr(&self) -> Option<f64> {
        self.lr.or((self.optimizer == "sgd").then_some(0.1))
    }
}

fn number<V: std::str::FromStr>(flag: &str, value: &str) -> Result<V, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} takes a number, not {value:?}"))
}
