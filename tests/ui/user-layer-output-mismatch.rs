use typenet::layer::{Layer, Mode};
use typenet::prelude::*;

/// `y = x / 2` over `N` features.
#[derive(Clone, Debug, PartialEq)]
pub struct Halve<const N: usize>;

impl<T: Scalar, const N: usize> Layer<T> for Halve<N> {
    type Input = [T; N];
    type Output = [T; N];
    fn zeros() -> Self {
        Halve
    }
    fn forward<const B: usize>(&self, x: &[[T; N]; B], y: &mut [[T; N]; B], _: Mode) {
        for (y, x) in y.as_flattened_mut().iter_mut().zip(x.as_flattened()) {
            *y = *x / T::from_f64(2.0);
        }
    }
    fn backward<const B: usize>(
        &self,
        _: &[[T; N]; B],
        _: &[[T; N]; B],
        dy: &[[T; N]; B],
        _: &mut Self,
        dx: Option<&mut [[T; N]; B]>,
    ) {
        if let Some(dx) = dx {
            for (d, g) in dx.as_flattened_mut().iter_mut().zip(dy.as_flattened()) {
                *d = *g / T::from_f64(2.0);
            }
        }
    }
}

// The user layer fits what comes before it, but not the `Affine` after it.
network! {
    struct Net< Affine<784, 50>, Halve<50>, Affine<40, 10>, SoftmaxWithLoss >
}

fn main() {
    let _ = Net::<f32>::new(1);
}
