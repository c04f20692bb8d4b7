//! Softmax with cross-entropy loss.

use crate::layer::{Layer, Loss, Mode};
use crate::{Scalar, Target};

/// Softmax over `N` classes followed by the cross-entropy loss, averaged over the batch.
///
/// The softmax subtracts each row's maximum before exponentiating, and the loss is taken
/// from the log-softmax (`log-sum-exp(x) - x_t`), so it never evaluates `log(0)` and needs no
/// `1e-7` guard. That makes the backward pass `(y - t) / batch` the exact derivative of the
/// loss, which is what lets the gradient check reach ~1e-10.
///
/// ```
/// use typenet::{Class, SoftmaxWithLoss};
/// let logits = [[0.0f64, 0.0], [0.0, 0.0]];
/// let t = [Class::<2>::new(0).unwrap(); 2];
/// let mut y = [[0.0; 2]; 2];
/// let loss = SoftmaxWithLoss::<2>.forward(&logits, &t, &mut y);
/// assert!((loss - 2f64.ln()).abs() < 1e-15);
/// let mut dx = [[0.0; 2]; 2];
/// SoftmaxWithLoss::<2>.backward(&y, &t, &mut dx);
/// assert_eq!(dx, [[-0.25, 0.25], [-0.25, 0.25]]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoftmaxWithLoss<const N: usize>;

impl<const N: usize> SoftmaxWithLoss<N> {
    /// Number of classes.
    pub const CLASSES: usize = N;

    /// Writes the softmax of each row of `x` into `y` and returns the mean cross-entropy
    /// against the targets `t`.
    #[inline]
    pub fn forward<T: Scalar, Y: Target<T, N>, const B: usize>(
        &self,
        x: &[[T; N]; B],
        t: &[Y; B],
        y: &mut [[T; N]; B],
    ) -> T {
        let mut total = T::zero();
        for ((xr, yr), tr) in x.iter().zip(y.iter_mut()).zip(t.iter()) {
            let lse = softmax_row(xr, yr);
            for (k, &xk) in xr.iter().enumerate() {
                let tk = tr.weight(k);
                if tk != T::zero() {
                    total = total + tk * (lse - xk);
                }
            }
        }
        total / batch_len::<T>(B)
    }

    /// Writes the softmax of each row of `x` into `y` (no loss): the class probabilities.
    #[inline]
    pub fn probabilities<T: Scalar, const B: usize>(&self, x: &[[T; N]; B], y: &mut [[T; N]; B]) {
        for (xr, yr) in x.iter().zip(y.iter_mut()) {
            softmax_row(xr, yr);
        }
    }

    /// The gradient of the mean loss with respect to the logits: `(y·Σt - t) / batch`.
    ///
    /// For targets that sum to one (class indices, one-hot and label-smoothed rows) that is
    /// the book's `(y - t) / batch`, to the bit. For rows that do not sum to one (a zero
    /// row, unnormalised weights) it is still the exact derivative of the loss that
    /// [`forward`](Self::forward) returns, `Σ_k t_k · (log-sum-exp(x) - x_k)`.
    ///
    /// ```
    /// use typenet::SoftmaxWithLoss;
    /// let y = [[0.5f64, 0.5]];
    /// let mut dx = [[1.0; 2]];
    /// SoftmaxWithLoss::<2>.backward(&y, &[[0.0, 0.0]], &mut dx);
    /// assert_eq!(dx, [[0.0, 0.0]]); // no target, no gradient
    /// ```
    #[inline]
    pub fn backward<T: Scalar, Y: Target<T, N>, const B: usize>(
        &self,
        y: &[[T; N]; B],
        t: &[Y; B],
        dx: &mut [[T; N]; B],
    ) {
        let scale = T::one() / batch_len::<T>(B);
        for ((yr, tr), dr) in y.iter().zip(t.iter()).zip(dx.iter_mut()) {
            let total = tr.total();
            if total == T::one() {
                for (k, (d, &yk)) in dr.iter_mut().zip(yr.iter()).enumerate() {
                    *d = (yk - tr.weight(k)) * scale;
                }
            } else {
                for (k, (d, &yk)) in dr.iter_mut().zip(yr.iter()).enumerate() {
                    *d = (yk * total - tr.weight(k)) * scale;
                }
            }
        }
    }
}

impl<T: Scalar, const N: usize> Layer<T> for SoftmaxWithLoss<N> {
    type Input = [T; N];
    type Output = [T; N];

    fn zeros() -> Self {
        SoftmaxWithLoss
    }

    /// The class probabilities.
    #[inline]
    fn forward<const B: usize>(&self, x: &[[T; N]; B], y: &mut [[T; N]; B], _: Mode) {
        self.probabilities(x, y);
    }

    /// The softmax's own Jacobian: `dx = y ⊙ (dy - Σ_k dy_k · y_k)`.
    fn backward<const B: usize>(
        &self,
        _x: &[[T; N]; B],
        y: &[[T; N]; B],
        dy: &[[T; N]; B],
        _grads: &mut Self,
        dx: Option<&mut [[T; N]; B]>,
    ) {
        let Some(dx) = dx else { return };
        for ((yr, dyr), dxr) in y.iter().zip(dy).zip(dx.iter_mut()) {
            let dot = yr.iter().zip(dyr).fold(T::zero(), |s, (&a, &b)| s + a * b);
            for ((d, &yk), &gk) in dxr.iter_mut().zip(yr).zip(dyr) {
                *d = yk * (gk - dot);
            }
        }
    }
}

impl<T: Scalar, const N: usize> Loss<T, N> for SoftmaxWithLoss<N> {
    #[inline]
    fn loss<Y: Target<T, N>, const B: usize>(
        &self,
        x: &[[T; N]; B],
        t: &[Y; B],
        y: &mut [[T; N]; B],
    ) -> T {
        self.forward(x, t, y)
    }

    #[inline]
    fn loss_gradient<Y: Target<T, N>, const B: usize>(
        &self,
        y: &[[T; N]; B],
        t: &[Y; B],
        dx: &mut [[T; N]; B],
    ) {
        self.backward(y, t, dx);
    }
}

impl<const N: usize> SoftmaxWithLoss<N> {
    /// The layer (it has no parameters), as a `const fn` byte decoder like every layer's.
    pub const fn from_le_bytes_at(_bytes: &[u8], _at: usize) -> Self {
        SoftmaxWithLoss
    }
}

/// Batch size as a scalar (at least 1, so an empty batch gives a zero loss, not NaN).
#[inline]
fn batch_len<T: Scalar>(b: usize) -> T {
    T::from_f64(b.max(1) as f64)
}

/// Stable softmax of one row into `y`; returns `log Σ exp(x)`.
#[inline]
fn softmax_row<T: Scalar, const N: usize>(x: &[T; N], y: &mut [T; N]) -> T {
    let max = x
        .iter()
        .fold(T::neg_infinity(), |m, &v| if v > m { v } else { m });
    let mut sum = T::zero();
    for (yk, &xk) in y.iter_mut().zip(x.iter()) {
        *yk = (xk - max).exp();
        sum = sum + *yk;
    }
    let inv = T::one() / sum;
    for yk in y.iter_mut() {
        *yk = *yk * inv;
    }
    max + sum.ln()
}
