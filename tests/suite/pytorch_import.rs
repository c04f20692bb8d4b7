//! Weights from PyTorch: a `state_dict` saved as safetensors, loaded through a name map,
//! with `Linear` weights transposed. Checked against PyTorch's own scores (the file written by
//! `tests/python/pytorch_export.py`, in CI), and by round trips and refusals that need no
//! Python.

use crate::common::scratch;
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::path::PathBuf;
use typenet::io;
use typenet::prelude::*;

network! {
    /// The book's SimpleConvNet (chapter 7).
    pub struct SimpleConvNet< Input<1, 28, 28>, Conv2d<1, 30, 5>, Relu, MaxPool<2>,
                              Affine<4320, 100>, Relu, Affine<100, 10>, SoftmaxWithLoss >
}

network! {
    /// Small enough to write by hand: a convolution, pooling, one affine layer.
    pub struct Small< Input<1, 4, 4>, Conv2d<1, 2, 3>, MaxPool<2>, Affine<2, 3>, SoftmaxWithLoss >
}

/// The name map of a module with attributes conv1, fc1, fc2.
const NAMES: [(&str, &str); 6] = [
    ("conv1.W", "conv1.weight"),
    ("conv1.b", "conv1.bias"),
    ("affine1.W", "fc1.weight"),
    ("affine1.b", "fc1.bias"),
    ("affine2.W", "fc2.weight"),
    ("affine2.b", "fc2.bias"),
];

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes `tensors` (name, shape, values) as a safetensors file.
fn write(path: &std::path::Path, tensors: &[(&str, Vec<usize>, Vec<f32>)]) {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, s, v)| (n.to_string(), s.clone(), f32_bytes(v)))
        .collect();
    let views: HashMap<String, TensorView> = bytes
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// `Small`'s tensors as PyTorch holds them: `fc1.weight` is `[out, in]`.
fn as_pytorch(net: &Small) -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
    let w = net.affine1.w; // [in][out]
    let fc: Vec<f32> = (0..3).flat_map(|o| (0..2).map(move |i| w[i][o])).collect();
    vec![
        (
            "conv1.weight",
            vec![2, 1, 3, 3],
            net.conv1
                .w
                .as_flattened()
                .as_flattened()
                .as_flattened()
                .to_vec(),
        ),
        ("conv1.bias", vec![2], net.conv1.b.to_vec()),
        ("fc1.weight", vec![3, 2], fc),
        ("fc1.bias", vec![3], net.affine1.b.to_vec()),
        ("num_batches_tracked", vec![1], vec![0.0]),
    ]
}

const SMALL_NAMES: [(&str, &str); 4] = [
    ("conv1.W", "conv1.weight"),
    ("conv1.b", "conv1.bias"),
    ("affine1.W", "fc1.weight"),
    ("affine1.b", "fc1.bias"),
];

#[test]
fn a_state_dict_loads_with_linear_weights_transposed() {
    let dir = scratch("pytorch-round-trip");
    let net = Small::with_init(Init::He, 3);
    let path = dir.join("model.safetensors");
    write(&path, &as_pytorch(&net));
    let loaded: Box<Small> = io::load_pytorch_safetensors(&path, &SMALL_NAMES).unwrap();
    assert_eq!(*loaded, net);
}

#[test]
fn a_state_dict_that_does_not_fit_is_refused_by_name() {
    let dir = scratch("pytorch-refusals");
    let net = Small::with_init(Init::He, 3);
    let path = dir.join("model.safetensors");
    let refused = |tensors: Vec<(&str, Vec<usize>, Vec<f32>)>, names: &[(&str, &str)]| {
        write(&path, &tensors);
        io::load_pytorch_safetensors::<f32, Small>(&path, names)
            .unwrap_err()
            .to_string()
    };
    // fc1.weight in typenet's own [in, out] layout: PyTorch's is [out, in].
    let mut wrong = as_pytorch(&net);
    wrong[2].1 = vec![2, 3];
    let e = refused(wrong, &SMALL_NAMES);
    assert!(e.ends_with("tensor `fc1.weight` has shape [2, 3] but `affine1.W` needs [3, 2] (a Linear weight, [out, in])"), "{e}");
    let mut nan = as_pytorch(&net);
    nan[0].2[4] = f32::NAN;
    let e = refused(nan, &SMALL_NAMES);
    assert!(
        e.ends_with("tensor `conv1.weight` holds a non-finite value at index 4"),
        "{e}"
    );
    let e = refused(as_pytorch(&net), &SMALL_NAMES[..3]);
    assert!(
        e.ends_with("the name map has no entry for `affine1.b` (shape [3])"),
        "{e}"
    );
    let e = refused(
        as_pytorch(&net),
        &[("conv1.W", "conv1.weight"), ("conv2.W", "conv2.weight")],
    );
    assert!(
        e.contains("the name map lists `conv2.W`, which `Small` does not have"),
        "{e}"
    );
    let mut names = SMALL_NAMES;
    names[3].1 = "fc1.bais";
    let e = refused(as_pytorch(&net), &names);
    assert!(
        e.ends_with("has no tensor `fc1.bais` (for `affine1.b`)"),
        "{e}"
    );
}

/// The file `tests/python/pytorch_export.py` writes: typenet's scores on the same digits
/// are PyTorch's to 1e-5.
#[test]
#[ignore = "needs the output of tests/python/pytorch_export.py (PyTorch); .ci/run runs it"]
fn pytorch_weights_give_pytorchs_scores() {
    let dir =
        PathBuf::from(std::env::var_os("TYPENET_PYTORCH_EXPORT").expect("TYPENET_PYTORCH_EXPORT"));
    let net: Box<SimpleConvNet> =
        io::load_pytorch_safetensors(dir.join("model.safetensors"), &NAMES).unwrap();
    let bytes = std::fs::read(dir.join("expected.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let floats = |name: &str| -> Vec<f32> {
        let view = file.tensor(name).unwrap();
        view.data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let (x, want) = (floats("x"), floats("scores"));
    let x: Vec<[f32; 784]> = x.chunks_exact(784).map(|c| c.try_into().unwrap()).collect();
    let mut scores = vec![[0.0f32; 10]; x.len()];
    net.predict_into(&x, &mut scores).unwrap();
    let worst = scores
        .as_flattened()
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    println!(
        "{} samples, largest difference from PyTorch {worst:e}",
        x.len()
    );
    assert_eq!(x.len(), 64);
    assert!(worst <= 1e-5, "typenet and PyTorch differ by {worst}");
}
