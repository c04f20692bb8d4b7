//! int8 networks on disk: `safetensors` with the scales and zero points as tensors.

use super::{read, write_atomically, Error};
use crate::quant::{self, Int8Network, Values, ValuesMut};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::format;
use std::path::Path;
use std::string::ToString;
use std::vec::Vec;

fn dtype(d: quant::Dtype) -> Dtype {
    match d {
        quant::Dtype::I8 => Dtype::I8,
        quant::Dtype::I32 => Dtype::I32,
        quant::Dtype::F32 => Dtype::F32,
    }
}

fn le_bytes(values: Values<'_>) -> Vec<u8> {
    match values {
        Values::I8(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Values::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Values::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

fn fill(values: ValuesMut<'_>, bytes: &[u8]) {
    match values {
        ValuesMut::I8(v) => v.iter_mut().zip(bytes).for_each(|(d, b)| *d = *b as i8),
        ValuesMut::I32(v) => v
            .iter_mut()
            .zip(bytes.chunks_exact(4))
            .for_each(|(d, b)| *d = i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        ValuesMut::F32(v) => v
            .iter_mut()
            .zip(bytes.chunks_exact(4))
            .for_each(|(d, b)| *d = f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
    }
}

/// Saves an int8 network as a `safetensors` file (atomically): per quantized layer `W`
/// (I8, `[out, in]` or `[out, in, k, k]`), `b` (I32), `W_scale` (F32, one per output
/// channel), `output_scale` and `output_zero`; and `input.scale`, `input.zero`. Real value
/// = `scale · (q − zero)`, as in TensorFlow Lite. The metadata names the network and its
/// layers.
///
/// Refuses a network with an invalid scale or zero point (nothing is written).
///
/// ```
/// use typenet::prelude::*;
/// network! { struct Net< Affine<3, 2>, Relu, Affine<2, 2>, SoftmaxWithLoss > }
/// let int8 = Net::<f32>::new(1).quantize(&[[0.0f32, 0.5, 1.0]])?;
/// let path = std::env::temp_dir().join(format!("typenet-int8-{}.safetensors", std::process::id()));
/// typenet::io::save_int8(&int8, &path)?;
/// let back: NetInt8 = typenet::io::load_int8(&path)?;
/// assert_eq!(back, int8);
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn save_int8<N: Int8Network>(net: &N, path: impl AsRef<Path>) -> Result<(), Error> {
    let path = path.as_ref();
    let mut checked = *net;
    checked
        .prepare()
        .map_err(|e| Error::format(path, format!("not saved: {e}")))?;
    let tensors: Vec<_> = (0..N::TENSOR_COUNT)
        .filter_map(|i| {
            let (layer, spec) = N::tensor_info(i)?;
            Some((
                format!("{layer}.{}", spec.name),
                spec,
                le_bytes(net.tensor(i)?),
            ))
        })
        .collect();
    let views = tensors
        .iter()
        .map(|(name, spec, bytes)| {
            TensorView::new(dtype(spec.dtype), spec.shape.to_vec(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| Error::format(path, format!("tensor `{name}`: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut metadata = HashMap::new();
    metadata.insert("format".to_string(), "typenet-int8".to_string());
    metadata.insert("network".to_string(), N::NAME.to_string());
    metadata.insert("layers".to_string(), N::LAYERS.join(", "));
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::format(path, format!("cannot serialise: {e}")))?;
    write_atomically(path, &bytes)
}

/// Loads an int8 network saved by [`save_int8`]. Refuses, saying why: a file of another
/// network (by its metadata, or a missing or extra tensor), another dtype or shape, and a
/// scale that is zero, negative or not finite, or a zero point outside int8.
pub fn load_int8<N: Int8Network>(path: impl AsRef<Path>) -> Result<N, Error> {
    let path = path.as_ref();
    let bytes = read(path)?;
    let invalid = |e: safetensors::SafeTensorError| {
        Error::format(path, format!("not a valid safetensors file: {e}"))
    };
    let file = SafeTensors::deserialize(&bytes).map_err(invalid)?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(invalid)?;
    let meta = header.metadata().as_ref();
    let saved = |key: &str| meta.and_then(|m| m.get(key)).map(|s| s.as_str());
    if saved("format") != Some("typenet-int8") {
        return Err(Error::format(
            path,
            "is not an int8 network saved by typenet (no `format: typenet-int8` metadata)",
        ));
    }
    if saved("network") != Some(N::NAME) || saved("layers") != Some(&N::LAYERS.join(", ")) {
        return Err(Error::format(
            path,
            format!(
                "holds the int8 network `{}` ({}), not `{}` ({})",
                saved("network").unwrap_or("?"),
                saved("layers").unwrap_or("?"),
                N::NAME,
                N::LAYERS.join(", ")
            ),
        ));
    }
    let mut net = N::zeros();
    for i in 0..N::TENSOR_COUNT {
        let Some((layer, spec)) = N::tensor_info(i) else {
            continue;
        };
        let name = format!("{layer}.{}", spec.name);
        let view = file
            .tensor(&name)
            .map_err(|_| Error::format(path, format!("has no tensor `{name}`")))?;
        if view.dtype() != dtype(spec.dtype) || view.shape() != spec.shape {
            return Err(Error::format(
                path,
                format!(
                    "tensor `{name}` is {:?} {:?} but `{}` expects {:?} {:?}",
                    view.dtype(),
                    view.shape(),
                    N::NAME,
                    dtype(spec.dtype),
                    spec.shape
                ),
            ));
        }
        if let Some(values) = net.tensor_mut(i) {
            fill(values, view.data());
        }
    }
    if file.len() != N::TENSOR_COUNT {
        return Err(Error::format(
            path,
            format!(
                "holds {} tensors but `{}` has {}",
                file.len(),
                N::NAME,
                N::TENSOR_COUNT
            ),
        ));
    }
    net.prepare()
        .map_err(|e| Error::format(path, format!("invalid int8 network: {e}")))?;
    Ok(net)
}
