//! # typenet
//!
//! Neural networks whose every shape is known at compile time.
//!
//! Declare the layers; [`network!`] expands them into one concrete struct with a field per
//! layer, const-generic weight matrices, and straight-line generated forward and backward
//! passes. A layer that does not fit the one before it is a compile error that names both
//! layers. Nothing allocates: parameters, activations and gradients are plain arrays, so
//! the same network trains on a laptop and runs on a microcontroller, its weights in a
//! `static`.
//!
//! ```
//! use typenet::prelude::*;
//!
//! network! {
//!     /// The two-layer net of chapter 5.
//!     pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
//! }
//!
//! let net = TwoLayerNet::<f32>::new(42);       // the book's 0.01·N(0, 1) weights
//! let images = [[[0.5f32; 28]; 28]; 2];        // any shape with 784 values per sample
//! let scores: [[f32; 10]; 2] = net.predict(&images);
//! assert!(scores.iter().flatten().all(|s| s.is_finite()));
//! ```
//!
//! The maths is chapter 5 of *Deep Learning from Scratch*: the scalar graph
//! ([`graph::MulLayer`], [`graph::AddLayer`]), the layers ([`Relu`], [`Sigmoid`], [`Affine`], [`SoftmaxWithLoss`]) and
//! the [gradient check](gradcheck). The layers are an open set: any type implementing the
//! [layer contract](layer) can be declared next to them.
//!
//! ## Features
//! - `std` (default): file formats in [`io`]: MNIST IDX (gzip or raw), `safetensors`
//!   with atomic writes, checkpoints. Implies `alloc`.
//! - `alloc`: in-memory datasets ([`data`], including byte images a trainer scales as it
//!   draws them) and the training loop ([`train`]), which keep their buffers on the heap.
//! - `parallel` (opt-in): kernels split across two threads (rayon), bit-identical to one
//!   thread: those of large dense batches (8 M multiply-adds and more) anywhere, and every
//!   kernel from 1 M inside `parallel::keep_awake`, which keeps the second thread
//!   spinning for a training loop (the book's batch of 100 included).
//! - Without `std` or `alloc`, everything needed to train and run a declared network still
//!   works, with no allocator.
//!
//! ## Unsafe code
//! The crate denies `unsafe` except in one place: the matrix kernels enter code compiled for
//! AVX2+FMA (with POPCNT) or AVX-512 after `is_x86_feature_detected!` confirmed them, through
//! a token that cannot be made for instructions the CPU lacks.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

// Lets the code that `network!` generates name `::typenet` inside this crate too.
extern crate self as typenet;

mod init;
mod layers;
mod network;
mod rng;
mod rows;
mod sample;
mod scalar;

pub mod bytes;
#[cfg(feature = "alloc")]
pub mod data;
pub mod example;
pub mod gradcheck;
pub mod graph;
#[cfg(feature = "std")]
pub mod io;
// The matrix kernels behind `Affine`, public for the benchmarks; not part of the API.
#[doc(hidden)]
pub mod kernels;
pub mod layer;
pub mod optim;
#[cfg(feature = "parallel")]
pub mod parallel;
pub mod quant;
#[cfg(feature = "alloc")]
pub mod train;

pub use init::Init;
pub use layer::{Layer, Loss, Mode};
pub use layers::{Affine, BatchNorm, Conv2d, Dropout, MaxPool, Relu, Sigmoid, SoftmaxWithLoss};
pub use network::{Network, TensorInfo};
pub use optim::{AdaGrad, Adam, AnyOptimizer, Momentum, Optimizer, RmsProp, Sgd};
pub use rng::Rng;
pub use rows::Rows;
pub use sample::{Class, LengthMismatch, Sample, Target};
pub use scalar::Scalar;

/// Declares a network: one concrete struct per declaration, a field per layer.
///
/// ```
/// use typenet::prelude::*;
/// network! {
///     /// A sigmoid classifier for XOR.
///     pub struct Xor< Affine<2, 4>, Sigmoid, Affine<4, 2>, SoftmaxWithLoss >
/// }
/// let net = Xor::<f64>::with_init(Init::Xavier, 1);
/// assert_eq!(net.affine2.w.len(), 4);
/// ```
///
/// The form is `[attributes] [visibility] struct Name< Layer, Layer, … >`. The built-in
/// layers are `Affine<IN, OUT>`, `Relu`, `Sigmoid` (their width comes from the layer before;
/// an explicit `Relu<N>` is checked) and `SoftmaxWithLoss` (last, exactly once). Any other
/// type implementing [`Layer`] is a layer too, written as its full type with
/// `T` for the network's scalar type (`Scale<T, 50>`; see [`layer`]). A layer may be named,
/// `hidden: Affine<784, 50>`; otherwise fields are called `affine1`, `relu1`, `affine2`, …
/// The generated items are:
///
/// - `struct Name<T: Scalar = f32>`: the parameters, one public field per layer. The same
///   type holds gradients and optimizer state.
/// - `struct NameCache<T, const B: usize>`: activations and gradients of a batch of `B`.
/// - methods `zeros`, `new(seed)`, `with_init(init, seed)`, `predict`, `classify`, `loss`,
///   `accuracy`, `forward`, `backward`, `gradient`, `numerical_gradient`, and a
///   [`Network`] implementation.
/// - for `f32` and `f64`, `from_le_bytes`, which builds the network from the bytes of a
///   saved parameter file; a `const fn` when every layer is built in, so that weights can
///   be decoded into a `static` at compile time (in flash).
///
/// `cargo doc` on your own crate shows every generated item of your networks, with its
/// layers and sizes.
///
/// Shape mistakes are compile errors that point at the layer:
///
/// ```compile_fail
/// typenet::network! { struct Bad< Affine<784, 50>, Relu, Affine<40, 10>, SoftmaxWithLoss > }
/// // error: `Affine<40, 10>` expects 40 inputs but the previous layer `Relu` produces 50
/// ```
pub use typenet_macros::network;

// The README's examples are compiled (and the runnable ones run) with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Index of the largest value (the first one on ties; NaN is never the largest).
///
/// ```
/// assert_eq!(typenet::argmax(&[0.1f32, 0.7, 0.2]), 1);
/// assert_eq!(typenet::argmax::<f32>(&[]), 0);
/// ```
pub fn argmax<T: Scalar>(values: &[T]) -> usize {
    // No indexing, so no bounds check to panic on: this sits on the inference path, which
    // the firmware proves panic-free at link time, at every optimisation level.
    let mut best: Option<(usize, T)> = None;
    for (i, &v) in values.iter().enumerate() {
        best = match best {
            Some((_, b)) if v > b || (b.is_nan() && !v.is_nan()) => Some((i, v)),
            None => Some((i, v)),
            keep => keep,
        };
    }
    best.map_or(0, |(i, _)| i)
}

/// Everything a user of `network!` needs in scope.
pub mod prelude {
    #[cfg(feature = "alloc")]
    pub use crate::train::Trainer;
    pub use crate::{
        network, AdaGrad, Adam, Affine, AnyOptimizer, BatchNorm, Class, Conv2d, Dropout, Init,
        Layer, Loss, MaxPool, Mode, Momentum, Network, Optimizer, Relu, RmsProp, Rng, Scalar, Sgd,
        Sigmoid, SoftmaxWithLoss,
    };
}

#[doc(hidden)]
pub mod __private {
    //! Items the generated code uses; not part of the public API.
    pub use crate::layer::{reshape, reshape_mut, Fits, InPlace, Tensor};
    pub use crate::sample::{same_length, Sample, Target};
    pub use typenum;

    /// Builds a network whose layers have no `const` byte decoder from the bytes of a
    /// parameter file (the layout of `typenet::io::save_raw`), tensor by tensor.
    pub fn from_le_bytes<T: crate::Scalar, N: crate::Network<T>>(bytes: &[u8]) -> N {
        let mut net = N::zeros();
        let mut chunks = bytes.chunks_exact(T::BYTES);
        for index in 0..N::TENSOR_COUNT {
            if let Some(dst) = net.tensor_mut(index) {
                for (d, c) in dst.iter_mut().zip(&mut chunks) {
                    *d = T::read_le(c);
                }
            }
        }
        net
    }
}
