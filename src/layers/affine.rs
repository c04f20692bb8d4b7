//! The fully connected layer.

use crate::layer::{Layer, Mode, ParamSpec, Role};
use crate::{bytes, kernels, Sample, Scalar};

/// Fully connected layer with `I` inputs and `O` outputs: `y = x · W + b`.
///
/// `W` is stored (in, out), row-major, as in the book, and `b` has `O` entries. The same
/// type holds a layer's gradient (`dW`, `db`), so a gradient is shaped like the parameters
/// by construction.
///
/// ```
/// use typenet::Affine;
/// let layer = Affine::<f64, 2, 3> { w: [[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]], b: [0.5; 3] };
/// let x = [[1.0, 2.0]];
/// let mut y = [[0.0; 3]];
/// layer.forward(&x, &mut y);
/// assert_eq!(y, [[1.5, 2.5, 8.5]]);
///
/// let mut grad = Affine::zeros();
/// let mut dx = [[0.0; 2]];
/// layer.backward(&x, &[[1.0, 1.0, 1.0]], &mut grad, &mut dx);
/// assert_eq!(dx, [[3.0, 4.0]]);          // dout · Wᵀ
/// assert_eq!(grad.w, [[1.0; 3], [2.0; 3]]); // xᵀ · dout
/// assert_eq!(grad.b, [1.0; 3]);          // Σ_rows dout
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine<T, const I: usize, const O: usize> {
    /// Weights, stored (in, out): `w[i][o]` connects input `i` to output `o`.
    pub w: [[T; O]; I],
    /// Biases, one per output.
    pub b: [T; O],
}

impl<T: Scalar, const I: usize, const O: usize> Default for Affine<T, I, O> {
    fn default() -> Self {
        Self::zeros()
    }
}

impl<T: Scalar, const I: usize, const O: usize> Affine<T, I, O> {
    /// Number of inputs per sample.
    pub const INPUTS: usize = I;
    /// Number of outputs per sample.
    pub const OUTPUTS: usize = O;
    /// Number of parameters (`I·O + O`).
    pub const PARAMS: usize = I * O + O;

    /// A layer with every weight and bias zero.
    pub fn zeros() -> Self {
        Affine {
            w: [[T::zero(); O]; I],
            b: [T::zero(); O],
        }
    }

    /// Forward pass on a batch of flat rows: `out = x · W + b`.
    #[inline]
    pub fn forward<const B: usize>(&self, x: &[[T; I]; B], out: &mut [[T; O]; B]) {
        kernels::matmul_bias(x, &self.w, &self.b, out);
    }

    /// Forward pass on a batch of samples of any shape holding `I` values each
    /// (the book reshapes `x` to 2-D here).
    ///
    /// ```
    /// use typenet::Affine;
    /// let layer = Affine::<f32, 4, 1> { w: [[1.0]; 4], b: [0.0] };
    /// let images = [[[1.0, 2.0], [3.0, 4.0]]]; // one 2×2 image
    /// let mut y = [[0.0]];
    /// layer.forward_shaped(&images, &mut y);
    /// assert_eq!(y, [[10.0]]);
    /// ```
    #[inline]
    pub fn forward_shaped<X: Sample<T, I>, const B: usize>(
        &self,
        x: &[X; B],
        out: &mut [[T; O]; B],
    ) {
        self.forward(X::flatten_batch(x), out);
    }

    /// Backward pass: writes `dW = xᵀ · dout` and `db = Σ_rows dout` into `grad`
    /// (overwriting it) and the input gradient `dx = dout · Wᵀ` into `dx`.
    #[inline]
    pub fn backward<const B: usize>(
        &self,
        x: &[[T; I]; B],
        dout: &[[T; O]; B],
        grad: &mut Self,
        dx: &mut [[T; I]; B],
    ) {
        self.param_gradient(x, dout, grad);
        kernels::matmul_transposed(dout, &self.w, dx);
    }

    /// Backward pass without the input gradient: only `dW` and `db`, for the first layer of
    /// a network, where nothing needs `dx` (that skips a third of the layer's backward work).
    ///
    /// ```
    /// use typenet::Affine;
    /// let layer = Affine::<f32, 2, 1> { w: [[1.0], [2.0]], b: [0.0] };
    /// let mut grad = Affine::zeros();
    /// layer.param_gradient(&[[3.0, 4.0]], &[[1.0]], &mut grad);
    /// assert_eq!((grad.w, grad.b), ([[3.0], [4.0]], [1.0]));
    /// ```
    #[inline]
    pub fn param_gradient<const B: usize>(
        &self,
        x: &[[T; I]; B],
        dout: &[[T; O]; B],
        grad: &mut Self,
    ) {
        kernels::weight_gradient(x, dout, &mut grad.w, &mut grad.b);
    }

    /// Backward pass for inputs of any shape: the input gradient comes back in the shape
    /// the input had (the book's `original_x_shape`).
    ///
    /// ```
    /// use typenet::Affine;
    /// let layer = Affine::<f32, 4, 1> { w: [[1.0], [2.0], [3.0], [4.0]], b: [0.0] };
    /// let images = [[[1.0, 2.0], [3.0, 4.0]]];
    /// let mut grad = Affine::zeros();
    /// let mut dx = [[[0.0; 2]; 2]];
    /// layer.backward_shaped(&images, &[[1.0]], &mut grad, &mut dx);
    /// assert_eq!(dx, [[[1.0, 2.0], [3.0, 4.0]]]);
    /// ```
    #[inline]
    pub fn backward_shaped<X: Sample<T, I>, const B: usize>(
        &self,
        x: &[X; B],
        dout: &[[T; O]; B],
        grad: &mut Self,
        dx: &mut [X; B],
    ) {
        self.backward(X::flatten_batch(x), dout, grad, X::flatten_batch_mut(dx));
    }
}

impl<T: Scalar, const I: usize, const O: usize> Layer<T> for Affine<T, I, O> {
    type Input = [T; I];
    type Output = [T; O];
    const TENSORS: &'static [ParamSpec] = &[
        ParamSpec::new("W", &[I, O], Role::Weight { fan_in: I }),
        ParamSpec::new("b", &[O], Role::Bias),
    ];

    fn zeros() -> Self {
        Affine::zeros()
    }

    #[inline]
    fn tensor(&self, index: usize) -> Option<&[T]> {
        match index {
            0 => Some(self.w.as_flattened()),
            1 => Some(&self.b),
            _ => None,
        }
    }

    #[inline]
    fn tensor_mut(&mut self, index: usize) -> Option<&mut [T]> {
        match index {
            0 => Some(self.w.as_flattened_mut()),
            1 => Some(&mut self.b),
            _ => None,
        }
    }

    #[inline]
    fn forward<const B: usize>(&self, x: &[[T; I]; B], y: &mut [[T; O]; B], _: Mode) {
        Affine::forward(self, x, y);
    }

    #[inline]
    fn backward<const B: usize>(
        &self,
        x: &[[T; I]; B],
        _y: &[[T; O]; B],
        dy: &[[T; O]; B],
        grads: &mut Self,
        dx: Option<&mut [[T; I]; B]>,
    ) {
        self.param_gradient(x, dy, grads);
        if let Some(dx) = dx {
            input_gradient(dy, &self.w, dx);
        }
    }
}

/// `dx = dy · Wᵀ`. Not inlined: rustc 1.95's MIR optimiser crashes (an internal compiler
/// error in const evaluation) when it inlines this unsizing call into a generated
/// `backward` whose first layer passes `None` for `dx`; a call costs nothing measurable
/// next to the kernel.
#[inline(never)]
fn input_gradient<T: Scalar, const I: usize, const O: usize, const B: usize>(
    dy: &[[T; O]; B],
    w: &[[T; O]; I],
    dx: &mut [[T; I]; B],
) {
    kernels::matmul_transposed(dy, w, dx);
}

macro_rules! from_le_bytes {
    ($t:ty, $n:literal, $vector:ident, $matrix:ident, $name:ident) => {
        impl<const I: usize, const O: usize> Affine<$t, I, O> {
            #[doc = concat!("The layer whose `W` (row by row) then `b` are the little-endian `", stringify!($t), "` values at byte offset `at` of `bytes`: a `const fn`, so weights can be decoded into a `static` at compile time.")]
            pub const fn $name(bytes: &[u8], at: usize) -> Self {
                Affine {
                    w: bytes::$matrix::<I, O>(bytes, at),
                    b: bytes::$vector::<O>(bytes, at + I * O * $n),
                }
            }
        }
    };
}
from_le_bytes!(f32, 4, vector_f32, matrix_f32, from_le_bytes_at);
from_le_bytes!(f64, 8, vector_f64, matrix_f64, from_le_bytes_at);
