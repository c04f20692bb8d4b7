//! Parameters on disk: `safetensors` (for Python tools) and raw little-endian (for firmware).

use super::{read, write_atomically, Error};
use crate::{Network, Scalar};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::format;
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

fn dtype<T: Scalar>() -> Dtype {
    if T::BYTES == 4 {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

/// The little-endian bytes of every value in `values`.
pub(crate) fn le_bytes<T: Scalar>(values: &[T]) -> Vec<u8> {
    let mut out = std::vec![0u8; values.len() * T::BYTES];
    for (chunk, &v) in out.chunks_exact_mut(T::BYTES).zip(values) {
        v.write_le(chunk);
    }
    out
}

/// `Err` naming the first tensor of `net` that holds NaN or an infinity: such a network is
/// never written, so a file on disk always loads.
pub(crate) fn refuse_non_finite<T: Scalar, N: Network<T>>(
    path: &Path,
    net: &N,
    what: &str,
) -> Result<(), Error> {
    for (i, info) in N::tensors().enumerate() {
        if let Some(k) = net
            .tensor(i)
            .and_then(|v| v.iter().position(|v| !v.is_finite()))
        {
            return Err(Error::format(
                path,
                format!("not written: {what}tensor `{info}` holds a non-finite value at index {k}; the file on disk is unchanged"),
            ));
        }
    }
    Ok(())
}

/// The kind of each layer (`Affine<784, 50>` → `Affine`): sizes are compared tensor by
/// tensor, kinds here, so that `Relu` and `Relu<50>` are the same layer.
fn kinds<'a>(layers: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    layers
        .map(|l| l.split('<').next().unwrap_or(l).trim())
        .collect()
}

/// The layers of a `"layers"` metadata entry: split at the commas outside `<…>`.
fn split_layers(list: &str) -> Vec<&str> {
    let (mut layers, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in list.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth == 0 => {
                layers.push(list[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    layers.push(list[start..].trim());
    layers
}

/// Refuses a file whose metadata says it was saved from other layers than `N`'s (files
/// without typenet metadata, such as ones written from PyTorch, are compared by tensor
/// names and shapes only).
pub(crate) fn check_layers<T: Scalar, N: Network<T>>(
    path: &Path,
    metadata: Option<&HashMap<String, String>>,
) -> Result<(), Error> {
    let Some(saved) = metadata.and_then(|m| m.get("layers")) else {
        return Ok(());
    };
    if kinds(split_layers(saved).into_iter()) != kinds(N::LAYERS.iter().copied()) {
        return Err(Error::format(
            path,
            format!(
                "was saved from the layers {saved}, but `{}` has {}; to load these weights into other layers on purpose, use `load_safetensors_ignoring_layers`",
                N::NAME,
                N::LAYERS.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The tensors of `net` as `(name, bytes, shape)`, names prefixed by `prefix`.
pub(crate) fn tensors_of<T: Scalar, N: Network<T>>(
    net: &N,
    prefix: &str,
) -> Vec<(String, Vec<u8>, Vec<usize>)> {
    N::tensors()
        .enumerate()
        .map(|(i, info)| {
            let values = net.tensor(i).unwrap_or(&[]);
            (
                format!("{prefix}{info}"),
                le_bytes(values),
                info.shape.to_vec(),
            )
        })
        .collect()
}

/// Serialises named tensors with metadata into a safetensors file, atomically.
pub(crate) fn write_safetensors<T: Scalar>(
    path: &Path,
    tensors: &[(String, Vec<u8>, Vec<usize>)],
    metadata: HashMap<String, String>,
) -> Result<(), Error> {
    let views = tensors
        .iter()
        .map(|(name, bytes, shape)| {
            TensorView::new(dtype::<T>(), shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| Error::format(path, format!("tensor `{name}`: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::format(path, format!("cannot serialise: {e}")))?;
    write_atomically(path, &bytes)
}

pub(crate) fn network_metadata<T: Scalar, N: Network<T>>() -> HashMap<String, String> {
    let mut m = HashMap::new();
    m.insert("format".to_string(), "typenet".to_string());
    m.insert("network".to_string(), N::NAME.to_string());
    m.insert("layers".to_string(), N::LAYERS.join(", "));
    m
}

/// Saves the parameters of `net` as a `safetensors` file (atomically), one tensor per
/// parameter named `<layer field>.<tensor>` (`affine1.W`, `affine1.b`, `W` shaped `[in, out]`).
///
/// The file opens with the Python `safetensors` package (`safe_open(path, "numpy")`) and
/// PyTorch; the metadata records the network's name and layers.
///
/// ```
/// use typenet::prelude::*;
/// network! { struct Net< Affine<3, 2>, SoftmaxWithLoss > }
/// let path = std::env::temp_dir().join(format!("typenet-doc-{}.safetensors", std::process::id()));
/// let net = Net::<f32>::new(1);
/// typenet::io::save_safetensors(&net, &path)?;
/// let back: Net<f32> = typenet::io::load_safetensors(&path)?;
/// assert_eq!(back, net);
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), typenet::io::Error>(())
/// ```
///
/// A network holding NaN or an infinity is not written (the error names the tensor).
pub fn save_safetensors<T: Scalar, N: Network<T>>(
    net: &N,
    path: impl AsRef<Path>,
) -> Result<(), Error> {
    let path = path.as_ref();
    refuse_non_finite(path, net, "")?;
    write_safetensors::<T>(path, &tensors_of(net, ""), network_metadata::<T, N>())
}

/// Loads parameters saved by [`save_safetensors`] (or any tool writing the same names,
/// shapes and dtype). Refuses, naming the tensor, a missing or extra tensor, another dtype,
/// another shape, or a value that is NaN or infinite, and a file saved from other layers
/// (`Sigmoid` where the network has `Relu`: see [`load_safetensors_ignoring_layers`]).
pub fn load_safetensors<T: Scalar, N: Network<T>>(path: impl AsRef<Path>) -> Result<N, Error> {
    load_weights(path.as_ref(), true)
}

/// [`load_safetensors`] without comparing the layers the file was saved from with the
/// network's: tensors are matched by name, shape and dtype only. For loading weights into
/// other activations on purpose, such as starting a `Sigmoid` network from a `Relu`
/// network's weights.
///
/// ```
/// use typenet::prelude::*;
/// network! { struct WithRelu< Affine<3, 2>, Relu, Affine<2, 2>, SoftmaxWithLoss > }
/// network! { struct WithSigmoid< Affine<3, 2>, Sigmoid, Affine<2, 2>, SoftmaxWithLoss > }
/// let path = std::env::temp_dir().join(format!("typenet-across-{}.safetensors", std::process::id()));
/// typenet::io::save_safetensors(&WithRelu::<f32>::new(1), &path)?;
/// assert!(typenet::io::load_safetensors::<f32, WithSigmoid>(&path).is_err());
/// let net: WithSigmoid = typenet::io::load_safetensors_ignoring_layers(&path)?;
/// assert_eq!(net.affine1.w, WithRelu::<f32>::new(1).affine1.w);
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), typenet::io::Error>(())
/// ```
pub fn load_safetensors_ignoring_layers<T: Scalar, N: Network<T>>(
    path: impl AsRef<Path>,
) -> Result<N, Error> {
    load_weights(path.as_ref(), false)
}

fn load_weights<T: Scalar, N: Network<T>>(path: &Path, same_layers: bool) -> Result<N, Error> {
    let bytes = read(path)?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
    if same_layers {
        let (_, header) = SafeTensors::read_metadata(&bytes)
            .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
        check_layers::<T, N>(path, header.metadata().as_ref())?;
    }
    let mut net = N::zeros();
    read_tensors(path, &file, "", &mut net)?;
    if file.len() != N::TENSOR_COUNT {
        let extra = file
            .names()
            .into_iter()
            .find(|n| !N::tensors().any(|t| t.is_named(n)))
            .unwrap_or("?")
            .to_string();
        return Err(Error::format(
            path,
            format!(
                "holds tensor `{extra}`, which `{}` does not have: these weights are for another network",
                N::NAME
            ),
        ));
    }
    Ok(net)
}

/// Fills the parameters of `net` from tensors named `prefix + name`.
pub(crate) fn read_tensors<T: Scalar, N: Network<T>>(
    path: &Path,
    file: &SafeTensors<'_>,
    prefix: &str,
    net: &mut N,
) -> Result<(), Error> {
    for (i, info) in N::tensors().enumerate() {
        let name = format!("{prefix}{info}");
        let view = file.tensor(&name).map_err(|_| {
            Error::format(
                path,
                format!(
                    "has no tensor `{name}` (shape {:?}) that `{}` needs: these weights are for another network",
                    info.shape,
                    N::NAME
                ),
            )
        })?;
        if view.dtype() != dtype::<T>() {
            return Err(Error::format(
                path,
                format!(
                    "tensor `{name}` is {:?} but the network is {}",
                    view.dtype(),
                    T::DTYPE
                ),
            ));
        }
        if view.shape() != info.shape {
            return Err(Error::format(
                path,
                format!(
                    "tensor `{name}` has shape {:?} but `{}` expects {:?}",
                    view.shape(),
                    N::NAME,
                    info.shape
                ),
            ));
        }
        let Some(dst) = net.tensor_mut(i) else {
            continue;
        };
        for (k, (d, chunk)) in dst
            .iter_mut()
            .zip(view.data().chunks_exact(T::BYTES))
            .enumerate()
        {
            *d = T::read_le(chunk);
            if !d.is_finite() {
                return Err(Error::format(
                    path,
                    format!("tensor `{name}` holds a non-finite value at index {k}"),
                ));
            }
        }
    }
    Ok(())
}

/// Saves the parameters as raw little-endian values, every tensor in declaration order,
/// no header: the layout the generated `from_le_bytes` decodes at compile time.
///
/// ```
/// use typenet::prelude::*;
/// network! { struct Net< Affine<3, 2>, SoftmaxWithLoss > }
/// let path = std::env::temp_dir().join(format!("typenet-doc-{}.bin", std::process::id()));
/// let net = Net::<f32>::new(1);
/// typenet::io::save_raw(&net, &path)?;
/// let bytes: [u8; Net::<f32>::BYTE_LEN] = std::fs::read(&path).unwrap().try_into().unwrap();
/// assert_eq!(Net::<f32>::from_le_bytes(&bytes), net);
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), typenet::io::Error>(())
/// ```
///
/// A network holding NaN or an infinity is not written (the error names the tensor).
pub fn save_raw<T: Scalar, N: Network<T>>(net: &N, path: impl AsRef<Path>) -> Result<(), Error> {
    let path = path.as_ref();
    refuse_non_finite(path, net, "")?;
    let mut bytes = Vec::with_capacity(N::PARAMS * T::BYTES);
    for i in 0..N::TENSOR_COUNT {
        bytes.extend(le_bytes(net.tensor(i).unwrap_or(&[])));
    }
    write_atomically(path, &bytes)
}

/// Loads a raw parameter file written by [`save_raw`], checking its length and values.
pub fn load_raw<T: Scalar, N: Network<T>>(path: impl AsRef<Path>) -> Result<N, Error> {
    let path = path.as_ref();
    let bytes = read(path)?;
    let want = N::PARAMS * T::BYTES;
    if bytes.len() != want {
        return Err(Error::format(
            path,
            format!(
                "is {} bytes but `{}` has {} {} parameters ({want} bytes)",
                bytes.len(),
                N::NAME,
                N::PARAMS,
                T::DTYPE
            ),
        ));
    }
    let mut net = N::zeros();
    let mut chunks = bytes.chunks_exact(T::BYTES);
    for (i, info) in N::tensors().enumerate() {
        if let Some(dst) = net.tensor_mut(i) {
            for (d, c) in dst.iter_mut().zip(&mut chunks) {
                *d = T::read_le(c);
                if !d.is_finite() {
                    return Err(Error::format(
                        path,
                        format!("tensor `{info}` holds a non-finite value"),
                    ));
                }
            }
        }
    }
    Ok(net)
}
