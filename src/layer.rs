//! The layer contract: what a type must provide to be a layer of a [`network!`](crate::network).
//!
//! `network!` does not know how any layer computes. It checks the shapes it can see,
//! then writes straight-line code that calls each layer through [`Layer`] (and the last one
//! through [`Loss`]). The built-in layers ([`Affine`](crate::Affine), [`Relu`](crate::Relu),
//! [`Sigmoid`](crate::Sigmoid), [`SoftmaxWithLoss`](crate::SoftmaxWithLoss)) implement
//! these traits exactly as a layer of yours does.
//!
//! A layer is one type that holds its parameters (or nothing). Activations and gradients
//! live in buffers the network's cache owns, so the batch size `B` is chosen per call and
//! a `static` can hold the parameters. The same type holds the layer's gradient and each
//! optimizer state slot, so those are shaped like the parameters by construction.
//!
//! # Writing a layer
//!
//! A per-feature scale `y = x ⊙ s`, with one trainable tensor:
//!
//! ```
//! use typenet::layer::{Layer, Mode, ParamSpec, Role};
//! use typenet::prelude::*;
//!
//! /// `y[i] = s[i] · x[i]` over `N` features.
//! #[derive(Clone, Debug, PartialEq)]
//! pub struct Scale<T, const N: usize> {
//!     pub s: [T; N],
//! }
//!
//! impl<T: Scalar, const N: usize> Layer<T> for Scale<T, N> {
//!     type Input = [T; N];
//!     type Output = [T; N];
//!     const TENSORS: &'static [ParamSpec] = &[ParamSpec::new("s", &[N], Role::Gain)];
//!
//!     fn zeros() -> Self {
//!         Scale { s: [T::zero(); N] }
//!     }
//!     fn tensor(&self, index: usize) -> Option<&[T]> {
//!         (index == 0).then_some(&self.s[..])
//!     }
//!     fn tensor_mut(&mut self, index: usize) -> Option<&mut [T]> {
//!         (index == 0).then_some(&mut self.s[..])
//!     }
//!     fn forward<const B: usize>(&self, x: &[[T; N]; B], y: &mut [[T; N]; B], _: Mode) {
//!         for (yr, xr) in y.iter_mut().zip(x) {
//!             for ((y, &x), &s) in yr.iter_mut().zip(xr).zip(&self.s) {
//!                 *y = x * s;
//!             }
//!         }
//!     }
//!     fn backward<const B: usize>(
//!         &self,
//!         x: &[[T; N]; B],
//!         _y: &[[T; N]; B],
//!         dy: &[[T; N]; B],
//!         grads: &mut Self,
//!         dx: Option<&mut [[T; N]; B]>,
//!     ) {
//!         grads.s = [T::zero(); N];
//!         for (xr, dr) in x.iter().zip(dy) {
//!             for ((g, &x), &d) in grads.s.iter_mut().zip(xr).zip(dr) {
//!                 *g = *g + x * d;
//!             }
//!         }
//!         if let Some(dx) = dx {
//!             for (dxr, dr) in dx.iter_mut().zip(dy) {
//!                 for ((g, &d), &s) in dxr.iter_mut().zip(dr).zip(&self.s) {
//!                     *g = d * s;
//!                 }
//!             }
//!         }
//!     }
//! }
//!
//! // A user layer is written as its full type; `T` names the network's scalar type.
//! network! {
//!     struct Net< Affine<4, 3>, Scale<T, 3>, Relu<3>, Affine<3, 2>, SoftmaxWithLoss >
//! }
//! let net = Net::<f64>::new(1);
//! assert_eq!(net.scale1.s, [1.0; 3]); // a `Gain` starts at one
//! assert_eq!(Net::<f64>::PARAMS, 4 * 3 + 3 + 3 + 3 * 2 + 2);
//! ```
//!
//! # The rules
//! - `Input` and `Output` are one sample: `[T; N]`, `[[T; W]; H]` or `[[[T; W]; H]; C]`
//!   (anything implementing [`Tensor`]). A layer's `Input` must be the previous layer's
//!   `Output`; when it is not, the build fails with a message that names both layers.
//! - `forward` overwrites `y`. `backward` overwrites `grads` (every tensor: the gradient of
//!   a trained one, the next value of a [`Role::State`] one) and, when `dx` is `Some`, the
//!   input gradient. The first layer of a network gets `None`: nothing
//!   needs the gradient of the data.
//! - `TENSORS` lists the parameter tensors in the order `tensor(i)` returns them, each
//!   with its [`Role`]. Initialisation, the optimizers, files and the gradient check use
//!   this table and nothing else: a role is never guessed from a shape.
//! - Layers read [`Mode`] to behave differently when training (dropout, batch statistics).
//! - In `network!`, a built-in layer written right after a user layer states its width
//!   (`Relu<3>` above): the macro cannot see inside a user layer, the compiler checks it.
//!
//! A new layer should have: a gradient check against [`gradcheck`](crate::gradcheck) in
//! `f64`, a compile-fail snapshot of a shape mismatch, a no-allocation test of a training
//! step, and a save/load round trip. `ARCHITECTURE.md` lists them.

use crate::Scalar;
use core::fmt;

/// Whether a pass is part of training or of inference.
///
/// Layers without a training behaviour ignore it. Layers that have one (dropout, batch
/// normalisation) read it: `predict` runs [`Mode::Infer`], `forward` and `gradient`
/// [`Mode::Train`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// A training pass, followed by a backward pass.
    #[default]
    Train,
    /// Inference only.
    Infer,
}

/// What a parameter tensor is for, which decides how it starts and whether it trains.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Role {
    /// Drawn by [`Init`](crate::Init) with a deviation scaled by `fan_in`, and trained.
    Weight {
        /// The number of inputs each output of the layer sums over (He and Xavier scale by it).
        fan_in: usize,
    },
    /// Starts at zero; trained.
    Bias,
    /// Starts at one; trained (a per-feature scale, such as batch normalisation's γ).
    Gain,
    /// Not trained: running statistics and the like, saved with the weights. Starts at
    /// `start`. A layer's `backward` writes the tensor's next value into `grads` (where a
    /// gradient would go: batch normalisation's updated running mean, dropout's next seed),
    /// and an optimizer step takes it from there; the gradient check skips it.
    State {
        /// The value it starts at.
        start: f64,
    },
}

impl Role {
    /// Whether the optimizers update tensors of this role.
    pub const fn is_trained(self) -> bool {
        !matches!(self, Role::State { .. })
    }
}

/// One parameter tensor of a layer, as the layer declares it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamSpec {
    /// The tensor's name within its layer (`"W"`, `"b"`, …); files store
    /// `<layer field>.<name>`.
    pub name: &'static str,
    /// Row-major shape.
    pub shape: &'static [usize],
    /// What it is for.
    pub role: Role,
}

impl ParamSpec {
    /// A tensor named `name` of `shape`.
    pub const fn new(name: &'static str, shape: &'static [usize], role: Role) -> Self {
        ParamSpec { name, shape, role }
    }

    /// Number of values in the tensor.
    pub const fn len(&self) -> usize {
        let mut n = 1;
        let mut i = 0;
        while i < self.shape.len() {
            n *= self.shape[i];
            i += 1;
        }
        n
    }

    /// Whether the tensor holds no values.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The number of values in all of `tensors`.
pub const fn param_count(tensors: &[ParamSpec]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < tensors.len() {
        n += tensors[i].len();
        i += 1;
    }
    n
}

/// One sample of activations: a fixed-size array of scalars, up to three dimensions.
///
/// ```
/// use typenet::layer::Tensor;
/// let image = <[[f32; 3]; 2] as Tensor<f32>>::zero();
/// assert_eq!(image.as_flat().len(), 6);
/// ```
pub trait Tensor<T>: Copy + Send + Sync + fmt::Debug + PartialEq + 'static {
    /// Number of values.
    const LEN: usize;
    /// The tensor of zeros.
    fn zero() -> Self;
    /// The values, row-major.
    fn as_flat(&self) -> &[T];
    /// The values, row-major, mutably.
    fn as_flat_mut(&mut self) -> &mut [T];
    /// A run of samples as one flat slice (no copy).
    fn slice_as_flat(samples: &[Self]) -> &[T];
    /// A run of samples as one flat slice, mutably (no copy).
    fn slice_as_flat_mut(samples: &mut [Self]) -> &mut [T];
    /// A flat slice as whole samples (no copy), or `None` if its length is not a multiple
    /// of [`LEN`](Self::LEN).
    fn slice_from_flat(flat: &[T]) -> Option<&[Self]>;
    /// A flat slice as whole samples, mutably, or `None` if its length is not a multiple
    /// of [`LEN`](Self::LEN).
    fn slice_from_flat_mut(flat: &mut [T]) -> Option<&mut [Self]>;
}

/// A batch of samples of one shape viewed as samples of another shape with as many values
/// (no copy): how the generated code passes a buffer across a layer boundary it has proved
/// to match (with a `Fits` bound), and how a flattening layer sees a 3-D stage.
#[inline]
pub fn reshape<T: Scalar, A: Tensor<T>, Z: Tensor<T>, const B: usize>(batch: &[A; B]) -> &[Z; B] {
    match Z::slice_from_flat(A::slice_as_flat(batch)).map(<&[Z; B]>::try_from) {
        Some(Ok(z)) => z,
        _ => unreachable!("the shapes of two adjacent layers are checked at compile time"),
    }
}

/// [`reshape`], mutably.
#[inline]
pub fn reshape_mut<T: Scalar, A: Tensor<T>, Z: Tensor<T>, const B: usize>(
    batch: &mut [A; B],
) -> &mut [Z; B] {
    match Z::slice_from_flat_mut(A::slice_as_flat_mut(batch)).map(<&mut [Z; B]>::try_from) {
        Some(Ok(z)) => z,
        _ => unreachable!("the shapes of two adjacent layers are checked at compile time"),
    }
}

/// Cuts `flat` into whole chunks of `N`, or `None` if a part is left over.
#[inline]
fn chunks<T, const N: usize>(flat: &[T]) -> Option<&[[T; N]]> {
    match flat.as_chunks::<N>() {
        (whole, []) => Some(whole),
        _ => None,
    }
}

#[inline]
fn chunks_mut<T, const N: usize>(flat: &mut [T]) -> Option<&mut [[T; N]]> {
    match flat.as_chunks_mut::<N>() {
        (whole, []) => Some(whole),
        _ => None,
    }
}

impl<T: Scalar, const N: usize> Tensor<T> for [T; N] {
    const LEN: usize = N;
    #[inline]
    fn slice_as_flat(samples: &[Self]) -> &[T] {
        samples.as_flattened()
    }
    #[inline]
    fn slice_as_flat_mut(samples: &mut [Self]) -> &mut [T] {
        samples.as_flattened_mut()
    }
    #[inline]
    fn slice_from_flat(flat: &[T]) -> Option<&[Self]> {
        chunks(flat)
    }
    #[inline]
    fn slice_from_flat_mut(flat: &mut [T]) -> Option<&mut [Self]> {
        chunks_mut(flat)
    }
    #[inline]
    fn zero() -> Self {
        [T::zero(); N]
    }
    #[inline]
    fn as_flat(&self) -> &[T] {
        self
    }
    #[inline]
    fn as_flat_mut(&mut self) -> &mut [T] {
        self
    }
}

impl<T: Scalar, const H: usize, const W: usize> Tensor<T> for [[T; W]; H] {
    const LEN: usize = H * W;
    #[inline]
    fn slice_as_flat(samples: &[Self]) -> &[T] {
        samples.as_flattened().as_flattened()
    }
    #[inline]
    fn slice_as_flat_mut(samples: &mut [Self]) -> &mut [T] {
        samples.as_flattened_mut().as_flattened_mut()
    }
    #[inline]
    fn slice_from_flat(flat: &[T]) -> Option<&[Self]> {
        chunks::<[T; W], H>(chunks::<T, W>(flat)?)
    }
    #[inline]
    fn slice_from_flat_mut(flat: &mut [T]) -> Option<&mut [Self]> {
        chunks_mut::<[T; W], H>(chunks_mut::<T, W>(flat)?)
    }
    #[inline]
    fn zero() -> Self {
        [[T::zero(); W]; H]
    }
    #[inline]
    fn as_flat(&self) -> &[T] {
        self.as_flattened()
    }
    #[inline]
    fn as_flat_mut(&mut self) -> &mut [T] {
        self.as_flattened_mut()
    }
}

impl<T: Scalar, const C: usize, const H: usize, const W: usize> Tensor<T> for [[[T; W]; H]; C] {
    const LEN: usize = C * H * W;
    #[inline]
    fn slice_as_flat(samples: &[Self]) -> &[T] {
        samples.as_flattened().as_flattened().as_flattened()
    }
    #[inline]
    fn slice_as_flat_mut(samples: &mut [Self]) -> &mut [T] {
        samples
            .as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut()
    }
    #[inline]
    fn slice_from_flat(flat: &[T]) -> Option<&[Self]> {
        chunks::<[[T; W]; H], C>(chunks::<[T; W], H>(chunks::<T, W>(flat)?)?)
    }
    #[inline]
    fn slice_from_flat_mut(flat: &mut [T]) -> Option<&mut [Self]> {
        chunks_mut::<[[T; W]; H], C>(chunks_mut::<[T; W], H>(chunks_mut::<T, W>(flat)?)?)
    }
    #[inline]
    fn zero() -> Self {
        [[[T::zero(); W]; H]; C]
    }
    #[inline]
    fn as_flat(&self) -> &[T] {
        self.as_flattened().as_flattened()
    }
    #[inline]
    fn as_flat_mut(&mut self) -> &mut [T] {
        self.as_flattened_mut().as_flattened_mut()
    }
}

/// A layer: its per-sample shapes, its parameter table, and its forward and backward
/// passes over a batch of `B` samples. See the [module documentation](self).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a layer of `{T}` networks",
    label = "`typenet::layer::Layer<{T}>` is not implemented for this type",
    note = "a layer of `network!` implements `typenet::layer::Layer<T>` for every `T: Scalar` (see the `typenet::layer` docs); a user layer with parameters is written with the scalar type, as `Scale<T, 50>`"
)]
pub trait Layer<T: Scalar>: Clone + fmt::Debug + PartialEq + Send + Sync + 'static {
    /// One input sample.
    type Input: Tensor<T>;
    /// One output sample.
    type Output: Tensor<T>;
    /// The parameter tensors, in the order of [`tensor`](Self::tensor); empty for a layer
    /// without parameters.
    const TENSORS: &'static [ParamSpec] = &[];
    /// The number of parameters.
    const PARAMS: usize = param_count(Self::TENSORS);

    /// The layer with every parameter zero (also a zero gradient and optimizer state).
    fn zeros() -> Self;

    /// Parameter tensor `index`, flat, or `None` past the last one.
    fn tensor(&self, index: usize) -> Option<&[T]> {
        let _ = index;
        None
    }

    /// Parameter tensor `index`, flat and mutable, or `None` past the last one.
    fn tensor_mut(&mut self, index: usize) -> Option<&mut [T]> {
        let _ = index;
        None
    }

    /// Writes the outputs of a batch into `y`.
    fn forward<const B: usize>(&self, x: &[Self::Input; B], y: &mut [Self::Output; B], mode: Mode);

    /// Given the inputs `x` and outputs `y` of a [`forward`](Self::forward) pass and the
    /// gradient of the loss with respect to `y`, writes the gradient of every parameter
    /// into `grads` and, if `dx` is `Some`, the gradient with respect to `x`.
    fn backward<const B: usize>(
        &self,
        x: &[Self::Input; B],
        y: &[Self::Output; B],
        dy: &[Self::Output; B],
        grads: &mut Self,
        dx: Option<&mut [Self::Input; B]>,
    );
}

/// An element-wise layer that can overwrite its input with its output, and its output's
/// gradient with its input's (`Relu` and `Sigmoid`).
///
/// `network!` runs the built-in activations this way on the buffer of the layer before
/// them, which saves a buffer and a pass over it.
pub trait InPlace<T: Scalar>: Layer<T, Output = <Self as Layer<T>>::Input> {
    /// Replaces `x` by the layer's output.
    fn forward_in_place<const B: usize>(&self, x: &mut [Self::Input; B], mode: Mode);
    /// Given the forward output `y`, turns `d` from the gradient of the output into the
    /// gradient of the input.
    fn backward_in_place<const B: usize>(&self, y: &[Self::Output; B], d: &mut [Self::Output; B]);
}

/// The last layer of a network: it turns scores into a loss against targets of `N` classes.
///
/// The loss fixes what a network is trained on: targets are class indices
/// ([`Class<N>`](crate::Class)) or rows of `N` weights (one-hot or soft), anything
/// implementing [`Target<T, N>`](crate::Target).
pub trait Loss<T: Scalar, const N: usize>: Layer<T, Input = [T; N], Output = [T; N]> {
    /// Writes the probabilities of the scores `x` into `y` and returns the mean loss.
    fn loss<Y: crate::Target<T, N>, const B: usize>(
        &self,
        x: &[[T; N]; B],
        t: &[Y; B],
        y: &mut [[T; N]; B],
    ) -> T;

    /// The gradient of the mean loss with respect to the scores, given the probabilities
    /// `y` that [`loss`](Self::loss) wrote.
    fn loss_gradient<Y: crate::Target<T, N>, const B: usize>(
        &self,
        y: &[[T; N]; B],
        t: &[Y; B],
        dx: &mut [[T; N]; B],
    );
}

/// `Self` (what one layer produces) is `Input` (what the next takes): implemented only
/// when they are the same type, so that a mismatch between two layers fails here, with a
/// message that names both.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Next}` takes `{Input}` per sample but the layer before it, `{Prev}`, produces `{Self}`",
    label = "this layer does not fit the one before it",
    note = "a layer's `Input` must be the previous layer's `Output`"
)]
pub trait Fits<Input, Prev, Next> {
    /// Naming it proves the bound (the generated code does, once per pair of layers the
    /// macro cannot check itself).
    const OK: () = ();
}

impl<X, Prev, Next> Fits<X, Prev, Next> for X {}
