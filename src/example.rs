//! What `network!` generates, for the network of the book's chapter 5.
//!
//! The methods of a declared network exist only in the crate that declares it, so
//! `cargo doc` on your own crate shows them for your networks. This module declares the
//! book's network here, so that its generated API is documented with typenet:
//!
//! ```
//! typenet::network! {
//!     /// The two-layer net of chapter 5.
//!     pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
//! }
//! ```
//!
//! See [`TwoLayerNet`] for the parameter struct and its methods, [`TwoLayerNetCache`] for the
//! activations a training step keeps, and the [`Network`](crate::Network) implementation for
//! what generic code (optimizers, files, the training loop) sees.

crate::network! {
    /// The two-layer net of chapter 5, as `network!` generates it.
    ///
    /// ```
    /// use typenet::example::TwoLayerNet;
    /// let net = TwoLayerNet::<f32>::new(42);
    /// let scores = net.predict(&[[0.5f32; 784]]);
    /// assert_eq!(scores[0].len(), 10);
    /// ```
    pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}
