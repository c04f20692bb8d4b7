//! Batch normalisation (chapter 6).

use crate::layer::{Layer, Mode, ParamSpec, Role};
use crate::{bytes, Scalar};

/// Batch normalisation of `C` channels of `S` values each, as the book's `BatchNormalization`
/// (and PyTorch's `BatchNorm1d` for `S = 1`, `BatchNorm2d` for the `S = H·W` pixels of a
/// channel): in training, each channel is normalised by the mean and variance of its values
/// over the batch, then scaled by `gamma` and shifted by `beta`; in inference, by the
/// running mean and variance instead.
///
/// In `network!` it is written `BatchNorm`: after an `Affine` it normalises each feature
/// (`C` features, `S = 1`), after a `Conv2d` or `MaxPool` each channel.
///
/// `running_mean` and `running_var` are [`Role::State`] tensors, saved with the weights:
/// each backward pass hands the optimizer `momentum · running + (1 − momentum) · batch`
/// (the book's momentum 0.9, settable). They start at zero, as in the book.
///
/// ```
/// use typenet::layer::{Layer, Mode};
/// use typenet::BatchNorm;
/// let mut bn = BatchNorm::<f64, 1, 1>::zeros();
/// bn.gamma = [2.0];
/// let x = [[[1.0]], [[3.0]]]; // mean 2, variance 1
/// let mut y = [[[0.0]]; 2];
/// bn.forward(&x, &mut y, Mode::Train);
/// assert!((y[0][0][0] + 2.0).abs() < 1e-5 && (y[1][0][0] - 2.0).abs() < 1e-5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNorm<T, const C: usize, const S: usize> {
    /// Scale per channel (starts at one).
    pub gamma: [T; C],
    /// Shift per channel (starts at zero).
    pub beta: [T; C],
    /// Running mean per channel, for inference.
    pub running_mean: [T; C],
    /// Running (biased) variance per channel, for inference.
    pub running_var: [T; C],
    /// How much of the running statistics each step keeps (0.9).
    pub momentum: T,
}

/// The book's `10e-7`, added to every variance.
const EPS: f64 = 1e-6;

impl<T: Scalar, const C: usize, const S: usize> BatchNorm<T, C, S> {
    /// Every tensor zero, momentum 0.9.
    pub fn zeros() -> Self {
        BatchNorm {
            gamma: [T::zero(); C],
            beta: [T::zero(); C],
            running_mean: [T::zero(); C],
            running_var: [T::zero(); C],
            momentum: T::from_f64(0.9),
        }
    }

    /// Mean and (biased) variance of each channel over a batch.
    fn batch_stats<const B: usize>(x: &[[[T; S]; C]; B]) -> ([T; C], [T; C]) {
        let m = T::from_f64((B * S).max(1) as f64);
        let (mut mean, mut var) = ([T::zero(); C], [T::zero(); C]);
        for sample in x {
            for (mu, ch) in mean.iter_mut().zip(sample) {
                *mu = ch.iter().fold(*mu, |a, &v| a + v);
            }
        }
        mean.iter_mut().for_each(|mu| *mu = *mu / m);
        for sample in x {
            for ((v, ch), &mu) in var.iter_mut().zip(sample).zip(&mean) {
                *v = ch.iter().fold(*v, |a, &x| a + (x - mu) * (x - mu));
            }
        }
        var.iter_mut().for_each(|v| *v = *v / m);
        (mean, var)
    }

    /// The layer in inference mode as `y = scale · x + shift` per channel: `scale = gamma /
    /// √(running_var + ε)`, `shift = beta − running_mean · scale` (for folding it into the
    /// layer before it).
    pub fn inference_affine(&self) -> ([T; C], [T; C]) {
        let eps = T::from_f64(EPS);
        let scale: [T; C] =
            core::array::from_fn(|c| self.gamma[c] / (self.running_var[c] + eps).sqrt());
        let shift = core::array::from_fn(|c| self.beta[c] - self.running_mean[c] * scale[c]);
        (scale, shift)
    }

    /// `y = gamma · (x − mean) / √(var + ε) + beta`, per channel.
    fn normalise<const B: usize>(
        &self,
        x: &[[[T; S]; C]; B],
        y: &mut [[[T; S]; C]; B],
        (mean, var): (&[T; C], &[T; C]),
    ) {
        let eps = T::from_f64(EPS);
        for (xs, ys) in x.iter().zip(y.iter_mut()) {
            for (c, (xc, yc)) in xs.iter().zip(ys.iter_mut()).enumerate() {
                let scale = self.gamma[c] / (var[c] + eps).sqrt();
                for (y, &x) in yc.iter_mut().zip(xc) {
                    *y = (x - mean[c]) * scale + self.beta[c];
                }
            }
        }
    }
}

impl<T: Scalar, const C: usize, const S: usize> Layer<T> for BatchNorm<T, C, S> {
    type Input = [[T; S]; C];
    type Output = [[T; S]; C];
    const TENSORS: &'static [ParamSpec] = &[
        ParamSpec::new("gamma", &[C], Role::Gain),
        ParamSpec::new("beta", &[C], Role::Bias),
        ParamSpec::new("running_mean", &[C], Role::State { start: 0.0 }),
        ParamSpec::new("running_var", &[C], Role::State { start: 0.0 }),
    ];

    fn zeros() -> Self {
        BatchNorm::zeros()
    }

    fn tensor(&self, index: usize) -> Option<&[T]> {
        match index {
            0 => Some(&self.gamma),
            1 => Some(&self.beta),
            2 => Some(&self.running_mean),
            3 => Some(&self.running_var),
            _ => None,
        }
    }

    fn tensor_mut(&mut self, index: usize) -> Option<&mut [T]> {
        match index {
            0 => Some(&mut self.gamma),
            1 => Some(&mut self.beta),
            2 => Some(&mut self.running_mean),
            3 => Some(&mut self.running_var),
            _ => None,
        }
    }

    fn forward<const B: usize>(&self, x: &[Self::Input; B], y: &mut [Self::Output; B], mode: Mode) {
        match mode {
            Mode::Train => {
                let (mean, var) = Self::batch_stats(x);
                self.normalise(x, y, (&mean, &var));
            }
            Mode::Infer => self.normalise(x, y, (&self.running_mean, &self.running_var)),
        }
    }

    fn backward<const B: usize>(
        &self,
        x: &[Self::Input; B],
        _y: &[Self::Output; B],
        dy: &[Self::Output; B],
        grads: &mut Self,
        dx: Option<&mut [Self::Input; B]>,
    ) {
        let (mean, var) = Self::batch_stats(x);
        let eps = T::from_f64(EPS);
        let inv_std: [T; C] = core::array::from_fn(|c| T::one() / (var[c] + eps).sqrt());
        let (mut dgamma, mut dbeta) = ([T::zero(); C], [T::zero(); C]);
        for (xs, ds) in x.iter().zip(dy) {
            for c in 0..C {
                for (&x, &d) in xs[c].iter().zip(&ds[c]) {
                    dbeta[c] = dbeta[c] + d;
                    dgamma[c] = dgamma[c] + (x - mean[c]) * inv_std[c] * d;
                }
            }
        }
        let keep = self.momentum;
        let blend = |running: &[T; C], batch: &[T; C]| -> [T; C] {
            core::array::from_fn(|c| keep * running[c] + (T::one() - keep) * batch[c])
        };
        *grads = BatchNorm {
            gamma: dgamma,
            beta: dbeta,
            running_mean: blend(&self.running_mean, &mean),
            running_var: blend(&self.running_var, &var),
            momentum: self.momentum,
        };
        let Some(dx) = dx else { return };
        // dx = gamma/σ · (dy − mean(dy) − x̂ · mean(dy · x̂)), per channel.
        let m = T::from_f64((B * S).max(1) as f64);
        for ((xs, ds), dxs) in x.iter().zip(dy).zip(dx.iter_mut()) {
            for c in 0..C {
                let scale = self.gamma[c] * inv_std[c];
                let (db, dg) = (dbeta[c] / m, dgamma[c] / m);
                for ((g, &x), &d) in dxs[c].iter_mut().zip(&xs[c]).zip(&ds[c]) {
                    let xhat = (x - mean[c]) * inv_std[c];
                    *g = scale * (d - db - xhat * dg);
                }
            }
        }
    }
}

macro_rules! from_le_bytes {
    ($t:ty, $n:literal, $vector:ident) => {
        impl<const C: usize, const S: usize> BatchNorm<$t, C, S> {
            #[doc = concat!("The layer whose `gamma`, `beta`, `running_mean` and `running_var` are the little-endian `", stringify!($t), "` values at byte offset `at` of `bytes`, with momentum 0.9: a `const fn`, so weights can be decoded into a `static` at compile time.")]
            pub const fn from_le_bytes_at(bytes: &[u8], at: usize) -> Self {
                BatchNorm {
                    gamma: bytes::$vector::<C>(bytes, at),
                    beta: bytes::$vector::<C>(bytes, at + C * $n),
                    running_mean: bytes::$vector::<C>(bytes, at + 2 * C * $n),
                    running_var: bytes::$vector::<C>(bytes, at + 3 * C * $n),
                    momentum: 0.9,
                }
            }
        }
    };
}
from_le_bytes!(f32, 4, vector_f32);
from_le_bytes!(f64, 8, vector_f64);
