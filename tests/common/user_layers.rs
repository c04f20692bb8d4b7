//! Layers defined outside typenet, as a user would write them: one without parameters,
//! one with, and one that changes the shape of a sample.

use typenet::layer::{Layer, Mode, ParamSpec, Role};
use typenet::Scalar;

/// `y = tanh(x)` over `N` features.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tanh<const N: usize>;

impl<T: Scalar, const N: usize> Layer<T> for Tanh<N> {
    type Input = [T; N];
    type Output = [T; N];

    fn zeros() -> Self {
        Tanh
    }

    fn forward<const B: usize>(&self, x: &[[T; N]; B], y: &mut [[T; N]; B], _: Mode) {
        for (y, x) in y.as_flattened_mut().iter_mut().zip(x.as_flattened()) {
            *y = x.tanh();
        }
    }

    fn backward<const B: usize>(
        &self,
        _x: &[[T; N]; B],
        y: &[[T; N]; B],
        dy: &[[T; N]; B],
        _grads: &mut Self,
        dx: Option<&mut [[T; N]; B]>,
    ) {
        let Some(dx) = dx else { return };
        let rows = dx.as_flattened_mut().iter_mut();
        for ((d, &y), &g) in rows.zip(y.as_flattened()).zip(dy.as_flattened()) {
            *d = g * (T::one() - y * y);
        }
    }
}

/// `y[i] = s[i] · x[i]` over `N` features: one trainable tensor, a [`Role::Gain`].
#[derive(Clone, Debug, PartialEq)]
pub struct Scale<T, const N: usize> {
    pub s: [T; N],
}

impl<T: Scalar, const N: usize> Layer<T> for Scale<T, N> {
    type Input = [T; N];
    type Output = [T; N];
    const TENSORS: &'static [ParamSpec] = &[ParamSpec::new("s", &[N], Role::Gain)];

    fn zeros() -> Self {
        Scale { s: [T::zero(); N] }
    }

    fn tensor(&self, index: usize) -> Option<&[T]> {
        (index == 0).then_some(&self.s[..])
    }

    fn tensor_mut(&mut self, index: usize) -> Option<&mut [T]> {
        (index == 0).then_some(&mut self.s[..])
    }

    fn forward<const B: usize>(&self, x: &[[T; N]; B], y: &mut [[T; N]; B], _: Mode) {
        for (yr, xr) in y.iter_mut().zip(x) {
            for ((y, &x), &s) in yr.iter_mut().zip(xr).zip(&self.s) {
                *y = x * s;
            }
        }
    }

    fn backward<const B: usize>(
        &self,
        x: &[[T; N]; B],
        _y: &[[T; N]; B],
        dy: &[[T; N]; B],
        grads: &mut Self,
        dx: Option<&mut [[T; N]; B]>,
    ) {
        grads.s = [T::zero(); N];
        for (xr, dr) in x.iter().zip(dy) {
            for ((g, &x), &d) in grads.s.iter_mut().zip(xr).zip(dr) {
                *g = *g + x * d;
            }
        }
        if let Some(dx) = dx {
            for (dxr, dr) in dx.iter_mut().zip(dy) {
                for ((g, &d), &s) in dxr.iter_mut().zip(dr).zip(&self.s) {
                    *g = d * s;
                }
            }
        }
    }
}

/// `[T; H·W]` → `[[T; W]; H]`, unchanged values: a stage of another shape, which a
/// following `Affine` flattens again.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Unflatten<const H: usize, const W: usize, const N: usize>;

impl<T: Scalar, const H: usize, const W: usize, const N: usize> Layer<T> for Unflatten<H, W, N> {
    type Input = [T; N];
    type Output = [[T; W]; H];

    fn zeros() -> Self {
        Unflatten
    }

    fn forward<const B: usize>(&self, x: &[[T; N]; B], y: &mut [[[T; W]; H]; B], _: Mode) {
        for (y, x) in y.iter_mut().zip(x) {
            y.as_flattened_mut().copy_from_slice(x);
        }
    }

    fn backward<const B: usize>(
        &self,
        _x: &[[T; N]; B],
        _y: &[[[T; W]; H]; B],
        dy: &[[[T; W]; H]; B],
        _grads: &mut Self,
        dx: Option<&mut [[T; N]; B]>,
    ) {
        if let Some(dx) = dx {
            for (dx, dy) in dx.iter_mut().zip(dy) {
                dx.copy_from_slice(dy.as_flattened());
            }
        }
    }
}
