//! What every declared network is: the [`Network`] trait the `network!` macro implements.

use crate::layer::{ParamSpec, Role};
use crate::Scalar;
use core::fmt;

/// One parameter tensor of a network: the layer field it belongs to and the layer's
/// description of it. Displayed (and saved to files) as `<layer>.<name>`.
///
/// ```
/// use typenet::layer::Role;
/// let info = typenet::TensorInfo { layer: "affine1", name: "W", shape: &[784, 50], role: Role::Weight { fan_in: 784 } };
/// assert_eq!(info.len(), 39_200);
/// assert_eq!(info.to_string(), "affine1.W");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TensorInfo {
    /// The layer's field in the network (`"affine1"`).
    pub layer: &'static str,
    /// The tensor's name within the layer (`"W"` for weights shaped `[in, out]`, `"b"` for biases).
    pub name: &'static str,
    /// Row-major shape.
    pub shape: &'static [usize],
    /// What the tensor is for.
    pub role: Role,
}

impl TensorInfo {
    /// The tensor `spec` of the layer in field `layer`.
    pub const fn new(layer: &'static str, spec: &ParamSpec) -> Self {
        TensorInfo {
            layer,
            name: spec.name,
            shape: spec.shape,
            role: spec.role,
        }
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

    /// Whether the optimizers update this tensor (every role but [`Role::State`]).
    pub const fn is_trained(&self) -> bool {
        self.role.is_trained()
    }

    /// Whether `name` is this tensor's full name, `<layer>.<name>`.
    pub fn is_named(&self, name: &str) -> bool {
        name.strip_prefix(self.layer)
            .and_then(|rest| rest.strip_prefix('.'))
            == Some(self.name)
    }
}

impl fmt::Display for TensorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.layer, self.name)
    }
}

/// A network declared with [`network!`](crate::network): its parameters, and training and
/// inference on flat batches.
///
/// The generated struct also has inherent methods (`predict`, `loss`, `gradient`, …) that
/// accept samples of any shape and either kind of target; this trait is the uniform face
/// that generic code (optimizers, initialisation, files, the training loop) works with.
/// The parameter tensors are numbered in declaration order, each layer's in the order of
/// its [`Layer::TENSORS`](crate::layer::Layer::TENSORS) table.
///
/// ```
/// use typenet::prelude::*;
/// network! { struct Tiny< Affine<3, 2>, SoftmaxWithLoss > }
///
/// fn count<N: Network<f32>>() -> usize { N::PARAMS }
/// assert_eq!(count::<Tiny>(), 8);
/// assert_eq!(<Tiny as Network<f32>>::tensor_info(0).unwrap().to_string(), "affine1.W");
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
    /// Number of parameter tensors.
    const TENSOR_COUNT: usize;

    /// Every parameter in one array, `[T; PARAMS]` (the macro computes the length, so
    /// generic code can hold all parameters of any network without an allocator).
    type Flat: Copy + AsRef<[T]> + AsMut<[T]> + Send + Sync + fmt::Debug;
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
    /// The description of parameter tensor `index`, or `None` past the last one.
    fn tensor_info(index: usize) -> Option<TensorInfo>;
    /// Every parameter tensor's description, in order.
    fn tensors() -> impl Iterator<Item = TensorInfo> + Clone {
        (0..Self::TENSOR_COUNT).filter_map(Self::tensor_info)
    }
    /// [`Flat`](Self::Flat) with every value zero.
    fn zero_flat() -> Self::Flat;
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

    /// Every parameter in one array, tensor after tensor (the order of [`tensors`](Self::tensors)),
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
    fn to_flat(&self) -> Self::Flat {
        let mut flat = Self::zero_flat();
        let mut rest = flat.as_mut();
        for index in 0..Self::TENSOR_COUNT {
            let src = self.tensor(index).unwrap_or(&[]);
            let (dst, tail) = rest.split_at_mut(src.len().min(rest.len()));
            dst.copy_from_slice(&src[..dst.len()]);
            rest = tail;
        }
        flat
    }

    /// The network whose parameters are `flat`, in the order [`to_flat`](Self::to_flat) writes.
    fn from_flat(flat: &Self::Flat) -> Self {
        let mut net = Self::zeros();
        let mut rest = flat.as_ref();
        for index in 0..Self::TENSOR_COUNT {
            if let Some(dst) = net.tensor_mut(index) {
                let (src, tail) = rest.split_at(dst.len().min(rest.len()));
                dst[..src.len()].copy_from_slice(src);
                rest = tail;
            }
        }
        net
    }
}
