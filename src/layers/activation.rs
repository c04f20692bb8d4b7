//! Element-wise activations: [`Relu`] and [`Sigmoid`].

use crate::layer::{InPlace, Layer, Mode};
use crate::Scalar;

/// Rectified linear unit over `N` features: `y = max(x, 0)`.
///
/// Backward passes `dout` where the input was positive and zero elsewhere (the book's
/// mask of `x <= 0`). The mask is read back from the output, so nothing extra is stored.
/// A NaN input stays NaN, so a diverging run is noticed instead of silently zeroed.
///
/// ```
/// use typenet::Relu;
/// let x = [[-1.0f32, 0.0, 2.0]];
/// let mut y = [[0.0; 3]];
/// Relu::<3>.forward(&x, &mut y);
/// assert_eq!(y, [[0.0, 0.0, 2.0]]);
/// let mut d = [[5.0, 5.0, 5.0]];
/// Relu::<3>.backward(&y, &mut d);
/// assert_eq!(d, [[0.0, 0.0, 5.0]]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relu<const N: usize>;

impl<const N: usize> Relu<N> {
    /// `out = max(x, 0)`.
    #[inline]
    pub fn forward<T: Scalar, const B: usize>(&self, x: &[[T; N]; B], out: &mut [[T; N]; B]) {
        for (o, &v) in out.as_flattened_mut().iter_mut().zip(x.as_flattened()) {
            *o = if v < T::zero() { T::zero() } else { v };
        }
    }

    /// Applies the activation in place.
    #[inline]
    pub fn forward_in_place<T: Scalar, const B: usize>(&self, x: &mut [[T; N]; B]) {
        // An unconditional store of a select vectorises; a conditional store does not.
        for v in x.as_flattened_mut() {
            *v = if *v < T::zero() { T::zero() } else { *v };
        }
    }

    /// Turns `d` (the gradient of the output) into the gradient of the input, in place,
    /// given the forward output `out`.
    #[inline]
    pub fn backward<T: Scalar, const B: usize>(&self, out: &[[T; N]; B], d: &mut [[T; N]; B]) {
        for (g, &y) in d.as_flattened_mut().iter_mut().zip(out.as_flattened()) {
            *g = if y <= T::zero() { T::zero() } else { *g };
        }
    }
}

/// Logistic sigmoid over `N` features: `y = 1 / (1 + exp(-x))`; backward `dout · (1 - y) · y`.
///
/// ```
/// use typenet::Sigmoid;
/// let mut y = [[0.0f64; 1]];
/// Sigmoid::<1>.forward(&[[0.0]], &mut y);
/// assert_eq!(y, [[0.5]]);
/// let mut d = [[1.0]];
/// Sigmoid::<1>.backward(&y, &mut d);
/// assert_eq!(d, [[0.25]]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sigmoid<const N: usize>;

impl<const N: usize> Sigmoid<N> {
    #[inline]
    fn sigmoid<T: Scalar>(v: T) -> T {
        T::one() / (T::one() + (-v).exp())
    }

    /// `out = 1 / (1 + exp(-x))`.
    #[inline]
    pub fn forward<T: Scalar, const B: usize>(&self, x: &[[T; N]; B], out: &mut [[T; N]; B]) {
        for (o, &v) in out.as_flattened_mut().iter_mut().zip(x.as_flattened()) {
            *o = Self::sigmoid(v);
        }
    }

    /// Applies the activation in place.
    #[inline]
    pub fn forward_in_place<T: Scalar, const B: usize>(&self, x: &mut [[T; N]; B]) {
        for v in x.as_flattened_mut() {
            *v = Self::sigmoid(*v);
        }
    }

    /// Turns `d` (the gradient of the output) into the gradient of the input, in place,
    /// given the forward output `out`.
    #[inline]
    pub fn backward<T: Scalar, const B: usize>(&self, out: &[[T; N]; B], d: &mut [[T; N]; B]) {
        for (g, &y) in d.as_flattened_mut().iter_mut().zip(out.as_flattened()) {
            *g = *g * (T::one() - y) * y;
        }
    }
}

impl<T: Scalar, const N: usize> Layer<T> for Relu<N> {
    type Input = [T; N];
    type Output = [T; N];

    fn zeros() -> Self {
        Relu
    }

    #[inline]
    fn forward<const B: usize>(&self, x: &[[T; N]; B], y: &mut [[T; N]; B], _: Mode) {
        Relu::forward(self, x, y);
    }

    #[inline]
    fn backward<const B: usize>(
        &self,
        _x: &[[T; N]; B],
        y: &[[T; N]; B],
        dy: &[[T; N]; B],
        _grads: &mut Self,
        dx: Option<&mut [[T; N]; B]>,
    ) {
        if let Some(dx) = dx {
            *dx = *dy;
            Relu::backward(self, y, dx);
        }
    }
}

impl<T: Scalar, const N: usize> InPlace<T> for Relu<N> {
    #[inline]
    fn forward_in_place<const B: usize>(&self, x: &mut [[T; N]; B], _: Mode) {
        Relu::forward_in_place(self, x);
    }

    #[inline]
    fn backward_in_place<const B: usize>(&self, y: &[[T; N]; B], d: &mut [[T; N]; B]) {
        Relu::backward(self, y, d);
    }
}

impl<const N: usize> Relu<N> {
    /// The layer (it has no parameters); a `const fn` like every layer's byte decoder, so a
    /// network's weights can be decoded into a `static`.
    pub const fn from_le_bytes_at(_bytes: &[u8], _at: usize) -> Self {
        Relu
    }
}

impl<T: Scalar, const N: usize> Layer<T> for Sigmoid<N> {
    type Input = [T; N];
    type Output = [T; N];

    fn zeros() -> Self {
        Sigmoid
    }

    #[inline]
    fn forward<const B: usize>(&self, x: &[[T; N]; B], y: &mut [[T; N]; B], _: Mode) {
        Sigmoid::forward(self, x, y);
    }

    #[inline]
    fn backward<const B: usize>(
        &self,
        _x: &[[T; N]; B],
        y: &[[T; N]; B],
        dy: &[[T; N]; B],
        _grads: &mut Self,
        dx: Option<&mut [[T; N]; B]>,
    ) {
        if let Some(dx) = dx {
            *dx = *dy;
            Sigmoid::backward(self, y, dx);
        }
    }
}

impl<T: Scalar, const N: usize> InPlace<T> for Sigmoid<N> {
    #[inline]
    fn forward_in_place<const B: usize>(&self, x: &mut [[T; N]; B], _: Mode) {
        Sigmoid::forward_in_place(self, x);
    }

    #[inline]
    fn backward_in_place<const B: usize>(&self, y: &[[T; N]; B], d: &mut [[T; N]; B]) {
        Sigmoid::backward(self, y, d);
    }
}

impl<const N: usize> Sigmoid<N> {
    /// The layer (it has no parameters); a `const fn` like every layer's byte decoder, so a
    /// network's weights can be decoded into a `static`.
    pub const fn from_le_bytes_at(_bytes: &[u8], _at: usize) -> Self {
        Sigmoid
    }
}
