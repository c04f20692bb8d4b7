//! What every declared network is: the [`Network`] trait the `network!` macro implements.

use crate::Scalar;
use generic_array::{ArrayLength, GenericArray};

/// Name and shape of one parameter tensor, as saved to files.
///
/// ```
/// let info = typenet::TensorInfo { name: "affine1.W", shape: &[784, 50] };
/// assert_eq!(info.len(), 39_200);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// `"<layer field>.W"` (weights, shape `[in, out]`) or `"<layer field>.b"` (biases, `[out]`).
    pub name: &'static str,
    /// Row-major shape.
    pub shape: &'static [usize],
}

impl TensorInfo {
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

    /// Whether the tensor holds no values (never true for a declared network).
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this is a weight matrix (as opposed to a bias vector).
    pub const fn is_weight(&self) -> bool {
        self.shape.len() == 2
    }
}

/// A network declared with [`network!`](crate::network): its parameters, and training and
/// inference on flat batches.
///
/// The generated struct also has inherent methods (`predict`, `loss`, `gradient`, …) that
/// accept samples of any shape and either kind of target; this trait is the uniform face
/// that generic code (optimizers, initialisation, files, the training loop) works with.
/// The parameter tensors are numbered in declaration order, weights before biases.
///
/// ```
/// use typenet::prelude::*;
/// network! { struct Tiny< Affine<3, 2>, SoftmaxWithLoss > }
///
/// fn count<N: Network<f32>>() -> usize { N::PARAMS }
/// assert_eq!(count::<Tiny>(), 8);
/// assert_eq!(<Tiny as Network<f32>>::TENSORS[0].name, "affine1.W");
/// ```
pub trait Network<T: Scalar>: Clone {
    /// The declared name of the network, e.g. `"TwoLayerNet"`.
    const NAME: &'static str;
    /// The layers, as declared, e.g. `["Affine<784, 50>", "Relu", …]`.
    const LAYERS: &'static [&'static str];
    /// Values per input sample (the first layer's inputs).
    const INPUTS: usize;
    /// Number of classes (the loss layer's width).
    const CLASSES: usize;
    /// Total number of parameters.
    const PARAMS: usize;
    /// Every parameter tensor, in order.
    const TENSORS: &'static [TensorInfo];

    /// [`PARAMS`](Self::PARAMS) as a `typenum` length (the macro writes it out), so that
    /// generic code can hold every parameter of any network in one fixed-size
    /// [`GenericArray`], which stable const generics cannot size from an associated const.
    type ParamCount: ArrayLength;
    /// One flat input sample: `[T; INPUTS]`.
    type Sample: Copy + Send + Sync;
    /// One class index: `Class<CLASSES>`.
    type Label: Copy;
    /// The scores of one sample (the logits before the softmax): `[T; CLASSES]`.
    type Scores: Copy + AsRef<[T]>;
    /// Activations and gradients of a forward and backward pass over `B` samples.
    type Cache<const B: usize>;

    /// A network whose parameters are all zero (also the starting value of gradients and
    /// optimizer state).
    fn zeros() -> Self;
    /// Parameter tensor `index`, flat, or `None` past the last one.
    fn tensor(&self, index: usize) -> Option<&[T]>;
    /// Parameter tensor `index`, flat and mutable, or `None` past the last one.
    fn tensor_mut(&mut self, index: usize) -> Option<&mut [T]>;
    /// A zeroed cache for batches of `B` samples.
    fn new_cache<const B: usize>() -> Self::Cache<B>;
    /// The scores (logits) of a batch.
    fn predict_batch<const B: usize>(&self, x: &[Self::Sample; B]) -> [Self::Scores; B];
    /// The mean loss of a batch.
    fn loss_batch<const B: usize>(&self, x: &[Self::Sample; B], t: &[Self::Label; B]) -> T;
    /// Backpropagation: writes the gradient of the mean loss into `grads` and returns the loss.
    fn gradient_batch<const B: usize>(
        &self,
        x: &[Self::Sample; B],
        t: &[Self::Label; B],
        cache: &mut Self::Cache<B>,
        grads: &mut Self,
    ) -> T;
    /// The class index of a label.
    fn label_index(label: &Self::Label) -> usize;
    /// The label of class `index`, or `None` if the network has no such class.
    fn label(index: usize) -> Option<Self::Label>;
    /// A sample of zeros (to fill batch buffers).
    fn zero_sample() -> Self::Sample;
    /// Views a flat slice of values as whole samples, or `None` if its length is not a
    /// multiple of [`INPUTS`](Self::INPUTS).
    fn as_samples(flat: &[T]) -> Option<&[Self::Sample]>;

    /// Every parameter in one array, tensor after tensor (the order of [`TENSORS`](Self::TENSORS)),
    /// without an allocator: for example to store weights trained on a device.
    ///
    /// ```
    /// use typenet::prelude::*;
    /// network! { struct Net< Affine<2, 3>, Relu, Affine<3, 2>, SoftmaxWithLoss > }
    /// let net = Net::<f32>::new(4);
    /// let flat = net.to_flat();
    /// assert_eq!(flat.len(), Net::<f32>::PARAMS); // 2·3 + 3 + 3·2 + 2 = 17
    /// assert_eq!(flat[0], net.affine1.w[0][0]);
    /// assert_eq!(Net::from_flat(&flat), net);
    /// ```
    fn to_flat(&self) -> GenericArray<T, Self::ParamCount> {
        let mut flat = GenericArray::<T, Self::ParamCount>::default();
        let mut rest = flat.as_mut_slice();
        for index in 0..Self::TENSORS.len() {
            let src = self.tensor(index).unwrap_or(&[]);
            let (dst, tail) = rest.split_at_mut(src.len().min(rest.len()));
            dst.copy_from_slice(&src[..dst.len()]);
            rest = tail;
        }
        flat
    }

    /// The network whose parameters are `flat`, in the order [`to_flat`](Self::to_flat) writes.
    fn from_flat(flat: &GenericArray<T, Self::ParamCount>) -> Self {
        let mut net = Self::zeros();
        let mut rest = flat.as_slice();
        for index in 0..Self::TENSORS.len() {
            if let Some(dst) = net.tensor_mut(index) {
                let (src, tail) = rest.split_at(dst.len().min(rest.len()));
                dst[..src.len()].copy_from_slice(src);
                rest = tail;
            }
        }
        net
    }
}
