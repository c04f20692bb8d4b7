//! Weights trained in PyTorch: a `state_dict` saved as safetensors, read through a name map.

use super::{read, Error};
use crate::layer::Role;
use crate::{Network, Scalar};
use safetensors::tensor::{Dtype, SafeTensors};
use std::format;
use std::path::Path;
use std::string::ToString;
use std::vec::Vec;

/// Loads a network from a PyTorch `state_dict` saved with `safetensors.torch.save_file`,
/// `names` mapping each of the network's tensors (`"conv1.W"`, as [`Network::tensors`]
/// names them) to the `state_dict` key it comes from (`"conv1.weight"`).
///
/// Layouts: a convolution's kernels are `[c_out, c_in, k, k]` in both; a bias is a bias; a
/// 2-D weight is `Linear`'s `[out, in]` in PyTorch and `Affine`'s `[in, out]` in typenet,
/// so it is transposed. Every tensor of the network must be in `names`, with a key the file
/// has, of the right shape and dtype (`float32` for an `f32` network) and finite; keys of
/// the file not in `names` are ignored (a `state_dict` may hold more, such as a batch-norm's
/// `num_batches_tracked`).
///
/// ```no_run
/// use typenet::prelude::*;
/// network! {
///     pub struct SimpleConvNet< Input<1, 28, 28>, Conv2d<1, 30, 5>, Relu, MaxPool<2>,
///                               Affine<4320, 100>, Relu, Affine<100, 10>, SoftmaxWithLoss >
/// }
/// // In Python: `safetensors.torch.save_file(model.state_dict(), "model.safetensors")` for
/// // a module with attributes conv1 (Conv2d), fc1 and fc2 (Linear).
/// let net: Box<SimpleConvNet> = typenet::io::load_pytorch_safetensors(
///     "model.safetensors",
///     &[
///         ("conv1.W", "conv1.weight"), ("conv1.b", "conv1.bias"),
///         ("affine1.W", "fc1.weight"), ("affine1.b", "fc1.bias"),
///         ("affine2.W", "fc2.weight"), ("affine2.b", "fc2.bias"),
///     ],
/// )?;
/// # Ok::<(), typenet::io::Error>(())
/// ```
pub fn load_pytorch_safetensors<T: Scalar, N: Network<T>>(
    path: impl AsRef<Path>,
    names: &[(&str, &str)],
) -> Result<std::boxed::Box<N>, Error> {
    let path = path.as_ref();
    let bytes = read(path)?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
    if let Some((ours, _)) = names
        .iter()
        .find(|(ours, _)| !N::tensors().any(|t| t.is_named(ours)))
    {
        let all: Vec<_> = N::tensors().map(|t| t.to_string()).collect();
        return Err(Error::format(
            path,
            format!(
                "the name map lists `{ours}`, which `{}` does not have (it has {})",
                N::NAME,
                all.join(", ")
            ),
        ));
    }
    let want = if T::BYTES == 4 {
        Dtype::F32
    } else {
        Dtype::F64
    };
    let mut net = std::boxed::Box::new(N::zeros());
    for (i, info) in N::tensors().enumerate() {
        let ours = info.to_string();
        let Some(&(_, key)) = names.iter().find(|(o, _)| *o == ours) else {
            return Err(Error::format(
                path,
                format!(
                    "the name map has no entry for `{ours}` (shape {:?})",
                    info.shape
                ),
            ));
        };
        let view = file
            .tensor(key)
            .map_err(|_| Error::format(path, format!("has no tensor `{key}` (for `{ours}`)")))?;
        if view.dtype() != want {
            return Err(Error::format(
                path,
                format!(
                    "tensor `{key}` is {:?} but the network is {}",
                    view.dtype(),
                    T::DTYPE
                ),
            ));
        }
        let transposed = matches!(info.role, Role::Weight { .. }) && info.shape.len() == 2;
        let expected: Vec<usize> = if transposed {
            info.shape.iter().rev().copied().collect()
        } else {
            info.shape.to_vec()
        };
        if view.shape() != expected.as_slice() {
            return Err(Error::format(
                path,
                format!(
                    "tensor `{key}` has shape {:?} but `{ours}` needs {expected:?}{}",
                    view.shape(),
                    if transposed {
                        " (a Linear weight, [out, in])"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let Some(dst) = net.tensor_mut(i) else {
            continue;
        };
        let values = view.data().chunks_exact(T::BYTES).map(T::read_le);
        for (k, v) in values.enumerate() {
            if !v.is_finite() {
                return Err(Error::format(
                    path,
                    format!("tensor `{key}` holds a non-finite value at index {k}"),
                ));
            }
            // PyTorch's [out, in] entry k is typenet's [in, out] entry (k % in, k / in).
            let at = match (transposed, info.shape) {
                (true, &[rows, cols]) => (k % rows) * cols + k / rows,
                _ => k,
            };
            if let Some(d) = dst.get_mut(at) {
                *d = v;
            }
        }
    }
    Ok(net)
}
