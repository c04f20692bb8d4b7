//! Gradient checking: backpropagation against numerical differentiation (section 5.7.3).

use crate::{Network, Scalar, TensorInfo};

/// The step of the central difference, `h = 1e-4` as in the book.
pub const H: f64 = 1e-4;

/// Numerical gradient of `loss` with respect to every parameter of `net`, by central
/// differences `(f(θ + h) - f(θ - h)) / 2h`, written into `grads`.
///
/// Each parameter is perturbed in place and restored bit-for-bit afterwards.
/// This costs two loss evaluations per parameter: use it to check, never to train.
///
/// ```
/// use typenet::prelude::*;
/// use typenet::gradcheck::numerical_gradient;
/// network! { struct Net< Affine<2, 2>, SoftmaxWithLoss > }
/// let mut net = Net::<f64>::zeros();
/// net.affine1.w = [[1.0, -1.0], [0.5, 2.0]];
/// let x = [[0.3, -0.7]];
/// let t = [Class::new(1).unwrap()];
/// let mut numeric = Net::zeros();
/// numerical_gradient(&mut net, &mut numeric, |n| n.loss(&x, &t));
/// let mut analytic = Net::zeros();
/// net.gradient(&x, &t, &mut Net::new_cache(), &mut analytic);
/// assert!((numeric.affine1.w[0][0] - analytic.affine1.w[0][0]).abs() < 1e-9);
/// ```
pub fn numerical_gradient<T: Scalar, N: Network<T>>(
    net: &mut N,
    grads: &mut N,
    mut loss: impl FnMut(&N) -> T,
) {
    let h = T::from_f64(H);
    let two_h = h + h;
    for (index, info) in N::tensors().enumerate() {
        if !info.is_trained() {
            continue;
        }
        let len = net.tensor(index).map_or(0, <[T]>::len);
        for k in 0..len {
            let Some(original) = net.tensor(index).map(|p| p[k]) else {
                break;
            };
            set(net, index, k, original + h);
            let plus = loss(net);
            set(net, index, k, original - h);
            let minus = loss(net);
            set(net, index, k, original);
            if let Some(g) = grads.tensor_mut(index) {
                g[k] = (plus - minus) / two_h;
            }
        }
    }
}

fn set<T: Scalar, N: Network<T>>(net: &mut N, index: usize, k: usize, value: T) {
    if let Some(p) = net.tensor_mut(index) {
        p[k] = value;
    }
}

/// Mean absolute difference between two same-shaped networks, tensor by tensor (the book
/// prints `np.average(np.abs(grad_backprop[key] - grad_numerical[key]))`).
///
/// ```
/// use typenet::prelude::*;
/// network! { struct Net< Affine<2, 2>, SoftmaxWithLoss > }
/// let a = Net::<f64>::zeros();
/// let mut b = a.clone();
/// b.affine1.b = [1.0, 3.0];
/// let diffs: Vec<_> = typenet::gradcheck::mean_abs_diff(&a, &b).collect();
/// assert_eq!((diffs[1].0.to_string(), diffs[1].1), ("affine1.b".to_string(), 2.0));
/// ```
pub fn mean_abs_diff<'a, T: Scalar, N: Network<T>>(
    a: &'a N,
    b: &'a N,
) -> impl Iterator<Item = (TensorInfo, f64)> + 'a {
    N::tensors()
        .enumerate()
        .map(move |(index, info): (usize, TensorInfo)| {
            let (x, y) = (
                a.tensor(index).unwrap_or(&[]),
                b.tensor(index).unwrap_or(&[]),
            );
            let sum: f64 = x.iter().zip(y).map(|(&p, &q)| (p - q).abs().as_f64()).sum();
            (info, sum / x.len().max(1) as f64)
        })
}

/// How many of `pre_activations` lie within `h` of the ReLU kink at 0.
///
/// Central differences straddle the kink for those values: the numerical gradient then
/// disagrees with backpropagation by far more than rounding, for a reason that is not a bug.
/// A gradient check should report this count next to its differences.
///
/// ```
/// assert_eq!(typenet::gradcheck::near_relu_kink(&[0.5f64, -3e-5, 2e-4]), 1);
/// ```
pub fn near_relu_kink<T: Scalar>(pre_activations: &[T]) -> usize {
    let h = T::from_f64(H);
    pre_activations.iter().filter(|v| v.abs() < h).count()
}
