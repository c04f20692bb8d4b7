//! The training loop of chapter 5, for any declared network (feature `alloc`).

use crate::data::Samples;
use crate::{Network, Optimizer, Rng, Scalar};
use alloc::boxed::Box;
use core::fmt;

/// How many times the loss of a network that knows nothing (`ln C` for `C` classes) a
/// batch loss may reach before the run counts as diverged.
///
/// A healthy run starts near `ln C` and goes down. The softmax-cross-entropy here is
/// computed from log-sum-exp, so a run whose parameters blow up (say, learning rate 1000)
/// rarely reaches NaN: its loss climbs to hundreds of nats instead. A batch loss of
/// `100·ln C` (230 nats for 10 classes) only happens when that has occurred.
pub const DIVERGENCE_FACTOR: f64 = 100.0;

/// Why a training step could not be taken.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainError {
    /// The loss became NaN or infinite, or rose above
    /// [`Trainer::divergence_loss`]: the run diverged (lower the learning rate). The
    /// parameters are left as they were before the step.
    Diverged {
        /// The iteration that diverged (counting from 1).
        iteration: u64,
        /// The loss of that iteration.
        loss: f64,
        /// The limit it crossed.
        limit: f64,
    },
    /// The step would have made a parameter or an optimizer state value NaN or infinite (a
    /// gradient is not finite, or learning rate × gradient overflows): it was not taken,
    /// and the parameters and optimizer are as they were.
    NonFiniteStep {
        /// The iteration whose step was refused (counting from 1).
        iteration: u64,
        /// The loss of that iteration.
        loss: f64,
    },
    /// There is nothing to train on, samples and labels differ in number, or the source
    /// failed to give a sample it counts (the batch is then discarded).
    BadData {
        /// Number of samples.
        samples: usize,
        /// Number of labels.
        labels: usize,
    },
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::Diverged { iteration, loss, limit } if loss.is_finite() => write!(
                f,
                "training diverged at iteration {iteration}: the loss reached {loss:.1}, above the limit of {limit:.1} (the loss of a network that knows nothing, times {DIVERGENCE_FACTOR}); lower the learning rate"
            ),
            TrainError::Diverged { iteration, loss, .. } => write!(
                f,
                "training diverged at iteration {iteration}: the loss or a gradient is not finite (loss {loss}); lower the learning rate"
            ),
            TrainError::NonFiniteStep { iteration, loss } => write!(
                f,
                "training diverged at iteration {iteration}: its step would make a parameter or the optimizer's state NaN or infinite (loss {loss:.4}), so it was not taken; lower the learning rate"
            ),
            TrainError::BadData { samples, labels } => {
                write!(f, "cannot train on {samples} samples with {labels} labels")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for TrainError {}

/// Mini-batch training with batches of `B` samples drawn at random with replacement (the
/// book's `np.random.choice`), backpropagation and an optimizer step.
///
/// The trainer owns every buffer a step needs (batch, cache, gradients), allocated once:
/// a step allocates nothing. Its whole state (parameters, optimizer, iteration, random
/// generator) goes into a checkpoint, so a resumed run ends bit-identical.
///
/// ```
/// use typenet::{prelude::*, train::Trainer};
/// network! { struct Xor< Affine<2, 4>, Sigmoid, Affine<4, 2>, SoftmaxWithLoss > }
/// let x = [[0.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
/// let t = [0, 1, 1, 0].map(|c| Class::new(c).unwrap());
/// let net = Xor::with_init(Init::Xavier, 7);
/// let mut trainer = Trainer::<f32, _, _, 4>::new(net, Adam::new(0.05, 0.9, 0.999), 1);
/// for _ in 0..3000 {
///     trainer.step(&x, &t)?;
/// }
/// assert_eq!(typenet::train::accuracy(trainer.net(), &x, &t), 1.0);
/// # Ok::<(), typenet::train::TrainError>(())
/// ```
pub struct Trainer<T: Scalar, N: Network<T>, O: Optimizer<T, N> + Clone, const B: usize> {
    net: Box<N>,
    optimizer: Box<O>,
    /// A batch loss above this ends the run with [`TrainError::Diverged`]; by default
    /// [`DIVERGENCE_FACTOR`]` · ln(classes)`. Set it to infinity to stop only on NaN.
    pub divergence_loss: f64,
    rng: Rng,
    iteration: u64,
    grads: Box<N>,
    /// Where a step writes the optimizer's next state; swapped in when the step is taken.
    spare: Box<O>,
    cache: Box<N::Cache<B>>,
    x: Box<[N::Sample; B]>,
    t: Box<[N::Label; B]>,
    picks: Box<[usize; B]>,
}

impl<T: Scalar, N: Network<T>, O: Optimizer<T, N> + Clone, const B: usize> Trainer<T, N, O, B> {
    /// A trainer at iteration 0 whose batches are drawn by a generator seeded with `seed`.
    pub fn new(net: N, optimizer: O, seed: u64) -> Self {
        Self::resume(net, optimizer, 0, Rng::new(seed ^ 0x0BA7_C4E5))
    }

    /// A trainer that continues a run: `iteration` steps done, batches drawn by `rng`.
    pub fn resume(net: N, optimizer: O, iteration: u64, rng: Rng) -> Self {
        let label = N::label(0);
        // Boxed before cloning: an optimizer holds copies of every parameter, and cloning a
        // box writes the clone straight to the heap rather than through the stack.
        let optimizer = Box::new(optimizer);
        Trainer {
            net: Box::new(net),
            spare: optimizer.clone(),
            optimizer,
            divergence_loss: DIVERGENCE_FACTOR * num_traits::Float::ln(N::CLASSES.max(2) as f64),
            rng,
            iteration,
            grads: Box::new(N::zeros()),
            cache: Box::new(N::new_cache()),
            x: Box::new([N::zero_sample(); B]),
            picks: Box::new([0; B]),
            t: Box::new(match label {
                Some(l) => [l; B],
                None => unreachable!("a declared network has at least one class"),
            }),
        }
    }

    /// Iterations done.
    pub fn iteration(&self) -> u64 {
        self.iteration
    }

    /// The network being trained.
    pub fn net(&self) -> &N {
        &self.net
    }

    /// The network being trained, mutably (to adjust or reload parameters between steps).
    pub fn net_mut(&mut self) -> &mut N {
        &mut self.net
    }

    /// The trained network (on the heap, where the trainer kept it).
    pub fn into_net(self) -> Box<N> {
        self.net
    }

    /// The optimizer and its state (for checkpoints).
    pub fn optimizer(&self) -> &O {
        &self.optimizer
    }

    /// The optimizer, mutably (to change its learning rate between steps).
    pub fn optimizer_mut(&mut self) -> &mut O {
        &mut self.optimizer
    }

    /// The generator that draws the next batch (for checkpoints).
    pub fn rng(&self) -> &Rng {
        &self.rng
    }

    /// One iteration on a random batch of `(x, t)`; returns the batch's loss.
    ///
    /// `x` is any [`Samples`] source: a slice or vector of samples, or byte images as
    /// [`Pixels`](crate::data::Pixels) (scaled as each batch is drawn: a quarter of the
    /// memory traffic). It is `Sync` so that, inside
    /// `parallel::keep_awake` (feature `parallel`), two threads gather halves of the batch.
    pub fn step<X: Samples<N::Sample> + Sync + ?Sized>(
        &mut self,
        x: &X,
        t: &[N::Label],
    ) -> Result<T, TrainError> {
        let bad = TrainError::BadData {
            samples: x.len(),
            labels: t.len(),
        };
        if x.is_empty() || x.len() != t.len() {
            return Err(bad);
        }
        for k in self.picks.iter_mut() {
            *k = self.rng.below(x.len());
        }
        if !x.gather(&self.picks[..], &mut self.x[..]) {
            return Err(bad);
        }
        for (tb, &k) in self.t.iter_mut().zip(self.picks.iter()) {
            match t.get(k) {
                Some(&label) => *tb = label,
                None => return Err(bad),
            }
        }
        let loss = self
            .net
            .gradient_batch(&self.x, &self.t, &mut self.cache, &mut self.grads);
        self.iteration += 1;
        // A diverged run keeps what it had: nothing below touches the parameters unless the
        // whole step is finite (which also refuses a non-finite gradient).
        if !(loss.is_finite() && loss.as_f64() <= self.divergence_loss) {
            return Err(TrainError::Diverged {
                iteration: self.iteration,
                loss: loss.as_f64(),
                limit: self.divergence_loss,
            });
        }
        // The step is computed out of place (the new parameters over the gradients, the
        // new optimizer state into the spare) and committed by swapping, only if every new
        // value is finite.
        if !self
            .optimizer
            .step_into(&self.net, &mut self.grads, &mut self.spare)
        {
            return Err(TrainError::NonFiniteStep {
                iteration: self.iteration,
                loss: loss.as_f64(),
            });
        }
        core::mem::swap(&mut self.net, &mut self.grads);
        core::mem::swap(&mut self.optimizer, &mut self.spare);
        Ok(loss)
    }
}

/// The fraction of samples `net` classifies correctly, predicting in batches of 100.
///
/// ```
/// use typenet::prelude::*;
/// network! { struct Net< Affine<1, 2>, SoftmaxWithLoss > }
/// let mut net = Net::<f32>::zeros();
/// net.affine1.w = [[1.0, -1.0]]; // positive inputs → class 0
/// let x = [[1.0], [2.0], [-1.0]];
/// let t = [0, 0, 0].map(|c| Class::new(c).unwrap());
/// assert_eq!(typenet::train::accuracy(&net, &x, &t), 2.0 / 3.0);
/// ```
pub fn accuracy<T: Scalar, N: Network<T>>(net: &N, x: &[N::Sample], t: &[N::Label]) -> T {
    let n = x.len().min(t.len());
    if n == 0 {
        return T::zero();
    }
    let mut hits = 0usize;
    let (xc, tc) = (x[..n].chunks_exact(100), t[..n].chunks_exact(100));
    let (xr, tr) = (xc.remainder(), tc.remainder());
    for (xs, ts) in xc.zip(tc) {
        if let Ok(xs) = <&[N::Sample; 100]>::try_from(xs) {
            hits += count_hits::<T, N, 100>(net, xs, ts);
        }
    }
    for (xs, ts) in xr.iter().zip(tr) {
        hits += count_hits::<T, N, 1>(net, core::array::from_ref(xs), core::slice::from_ref(ts));
    }
    T::from_f64(hits as f64 / n as f64)
}

fn count_hits<T: Scalar, N: Network<T>, const B: usize>(
    net: &N,
    x: &[N::Sample; B],
    t: &[N::Label],
) -> usize {
    net.predict_batch(x)
        .iter()
        .zip(t)
        .filter(|(s, l)| crate::argmax(s.as_ref()) == N::label_index(l))
        .count()
}
