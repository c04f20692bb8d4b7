//! The built-in layers (chapters 5, 6 and 7), each with its forward and backward pass on a batch of `B` rows.
//!
//! A layer type holds only its parameters (`Affine`) or nothing at all (`Relu`, `Sigmoid`,
//! `SoftmaxWithLoss` are zero-sized and carry their width in the type). Activations and
//! gradients live in buffers the caller owns, so the batch size is chosen per call and a
//! `static` can hold the parameters. The `network!` macro wires these calls together.

mod activation;
mod affine;
mod batch_norm;
mod conv;
mod dropout;
mod pool;
mod softmax;

pub use activation::{Relu, Sigmoid};
pub use affine::Affine;
pub use batch_norm::BatchNorm;
pub use conv::Conv2d;
pub use dropout::Dropout;
pub use pool::MaxPool;
pub use softmax::SoftmaxWithLoss;
