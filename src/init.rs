//! Weight initialisation.

use crate::layer::Role;
use crate::{Network, Rng, Scalar};

/// How weights are drawn; biases always start at zero, as in the book.
///
/// Which tensors are weights comes from each layer's table
/// ([`Layer::TENSORS`](crate::layer::Layer::TENSORS)): a [`Role::Weight`] is drawn with
/// a deviation scaled by its `fan_in`, a [`Role::Bias`] is zeroed, a [`Role::Gain`] set
/// to one, and a [`Role::State`] set to its `start`.
///
/// ```
/// use typenet::Init;
/// assert_eq!(Init::BOOK, Init::Gaussian(0.01));
/// assert_eq!(Init::He.std_dev(50), (2.0f64 / 50.0).sqrt());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// `std · N(0, 1)` for every weight (the book's `weight_init_std`).
    Gaussian(f64),
    /// He: `N(0, 2 / fan_in)`, for ReLU networks.
    He,
    /// Xavier: `N(0, 1 / fan_in)`, for sigmoid networks (the book's chapter 6 form).
    Xavier,
}

impl Init {
    /// The book's chapter 5 initialisation: `0.01 · N(0, 1)`.
    pub const BOOK: Init = Init::Gaussian(0.01);

    /// Standard deviation of the weights of a layer with `fan_in` inputs.
    pub fn std_dev(self, fan_in: usize) -> f64 {
        use num_traits::Float;
        let fan_in = fan_in.max(1) as f64;
        match self {
            Init::Gaussian(s) => s,
            Init::He => Float::sqrt(2.0 / fan_in),
            Init::Xavier => Float::sqrt(1.0 / fan_in),
        }
    }

    /// Draws every weight of `net` from `rng` (tensor by tensor, row-major) and sets every
    /// other tensor to its role's starting value (biases zero).
    ///
    /// ```
    /// use typenet::prelude::*;
    /// network! { struct Net< Affine<4, 3>, SoftmaxWithLoss > }
    /// let mut net = Net::<f64>::zeros();
    /// Init::He.apply(&mut net, &mut Rng::new(1));
    /// assert!(net.affine1.w.iter().flatten().all(|w| *w != 0.0));
    /// assert_eq!(net.affine1.b, [0.0; 3]);
    /// ```
    pub fn apply<T: Scalar, N: Network<T>>(self, net: &mut N, rng: &mut Rng) {
        for (index, info) in N::tensors().enumerate() {
            let Some(values) = net.tensor_mut(index) else {
                continue;
            };
            match info.role {
                Role::Weight { fan_in } => {
                    let std = self.std_dev(fan_in);
                    for v in values {
                        *v = T::from_f64(std * rng.normal());
                    }
                }
                Role::Bias => values.fill(T::zero()),
                Role::Gain => values.fill(T::one()),
                Role::State { start } => values.fill(T::from_f64(start)),
            }
        }
    }
}
