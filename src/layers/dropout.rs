//! Dropout (chapter 6).

use crate::layer::{Layer, Mode, ParamSpec, Role};
use crate::{bytes, Scalar};

/// Dropout over `N` features, as the book's `Dropout`: in training each input is kept with
/// probability `1 − ratio` and zeroed otherwise; in inference every input is scaled by
/// `1 − ratio`. `ratio` is 0.5 unless set (`net.dropout1.ratio = 0.3`).
///
/// The mask is a hash of the layer's `seed`, the sample's place in the batch and the
/// feature, so the backward pass finds it again without storing it, and a training step is
/// reproducible. `seed` is a [`Role::State`] tensor: each backward pass hands the optimizer
/// the next seed (a 24-bit generator whose values `f32` holds exactly), so each step draws
/// a new mask, and checkpoints carry it.
///
/// ```
/// use typenet::layer::{Layer, Mode};
/// use typenet::Dropout;
/// let layer = Dropout::<f64, 1000>::default();
/// let (x, mut y) = ([[1.0; 1000]], [[0.0; 1000]]);
/// layer.forward(&x, &mut y, Mode::Train);
/// let kept = y[0].iter().filter(|v| **v == 1.0).count();
/// assert!((450..550).contains(&kept), "about half are kept: {kept}");
/// layer.forward(&x, &mut y, Mode::Infer);
/// assert_eq!(y[0][0], 0.5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout<T, const N: usize> {
    /// The probability of dropping an input, in `[0, 1)`.
    pub ratio: T,
    /// Where the masks come from; the backward pass writes the next one into the gradient.
    pub seed: [T; 1],
}

/// `2^24`: the seeds are integers below it, which `f32` represents exactly.
const SEEDS: u32 = 1 << 24;

impl<T: Scalar, const N: usize> Default for Dropout<T, N> {
    fn default() -> Self {
        Dropout {
            ratio: T::from_f64(0.5),
            seed: [T::zero()],
        }
    }
}

impl<T: Scalar, const N: usize> Dropout<T, N> {
    /// The seed as an integer (values outside `[0, 2^24)` are taken modulo it).
    fn seed_bits(&self) -> u32 {
        let s = self.seed[0].as_f64();
        if s.is_finite() && s >= 0.0 {
            (s as u64 % u64::from(SEEDS)) as u32
        } else {
            0
        }
    }

    /// The seed after this one: a full-period linear congruential step modulo `2^24`.
    fn next_seed(&self) -> T {
        let next = self
            .seed_bits()
            .wrapping_mul(1_103_515_245)
            .wrapping_add(12_345)
            % SEEDS;
        T::from_f64(f64::from(next))
    }

    /// Whether input `i` of sample `b` is kept.
    #[inline]
    fn kept(seed: u32, threshold: u32, b: usize, i: usize) -> bool {
        // SplitMix-style mixing of (seed, sample, feature) into 32 uniform bits.
        let mut z = (u64::from(seed) << 40) ^ ((b as u64) << 20) ^ i as u64;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 32) as u32 >= threshold
    }

    /// Inputs whose 32 random bits are below this are dropped.
    fn threshold(&self) -> u32 {
        let r = self.ratio.as_f64();
        if r > 0.0 {
            (r.min(1.0) * f64::from(u32::MAX)) as u32
        } else {
            0
        }
    }
}

impl<T: Scalar, const N: usize> Layer<T> for Dropout<T, N> {
    type Input = [T; N];
    type Output = [T; N];
    const TENSORS: &'static [ParamSpec] =
        &[ParamSpec::new("seed", &[1], Role::State { start: 0.0 })];

    /// The layer with `ratio` 0.5 and seed 0.
    fn zeros() -> Self {
        Self::default()
    }

    fn tensor(&self, index: usize) -> Option<&[T]> {
        (index == 0).then_some(&self.seed[..])
    }

    fn tensor_mut(&mut self, index: usize) -> Option<&mut [T]> {
        (index == 0).then_some(&mut self.seed[..])
    }

    fn forward<const B: usize>(&self, x: &[[T; N]; B], y: &mut [[T; N]; B], mode: Mode) {
        if mode == Mode::Infer {
            let keep = T::one() - self.ratio;
            for (yr, xr) in y.iter_mut().zip(x) {
                for (y, &x) in yr.iter_mut().zip(xr) {
                    *y = x * keep;
                }
            }
            return;
        }
        let (seed, threshold) = (self.seed_bits(), self.threshold());
        for (b, (yr, xr)) in y.iter_mut().zip(x).enumerate() {
            for (i, (y, &x)) in yr.iter_mut().zip(xr).enumerate() {
                *y = if Self::kept(seed, threshold, b, i) {
                    x
                } else {
                    T::zero()
                };
            }
        }
    }

    fn backward<const B: usize>(
        &self,
        _x: &[[T; N]; B],
        _y: &[[T; N]; B],
        dy: &[[T; N]; B],
        grads: &mut Self,
        dx: Option<&mut [[T; N]; B]>,
    ) {
        *grads = Dropout {
            ratio: self.ratio,
            seed: [self.next_seed()],
        };
        let Some(dx) = dx else { return };
        let (seed, threshold) = (self.seed_bits(), self.threshold());
        for (b, (dxr, dyr)) in dx.iter_mut().zip(dy).enumerate() {
            for (i, (g, &d)) in dxr.iter_mut().zip(dyr).enumerate() {
                *g = if Self::kept(seed, threshold, b, i) {
                    d
                } else {
                    T::zero()
                };
            }
        }
    }
}

macro_rules! from_le_bytes {
    ($t:ty, $vector:ident) => {
        impl<const N: usize> Dropout<$t, N> {
            #[doc = concat!("The layer whose seed is the little-endian `", stringify!($t), "` at byte offset `at` of `bytes`, with `ratio` 0.5: a `const fn`, as every built-in layer's decoder.")]
            pub const fn from_le_bytes_at(bytes: &[u8], at: usize) -> Self {
                Dropout { ratio: 0.5, seed: bytes::$vector::<1>(bytes, at) }
            }
        }
    };
}
from_le_bytes!(f32, vector_f32);
from_le_bytes!(f64, vector_f64);
