//! Convolution and max pooling (chapter 7): forward passes against hand-computed examples,
//! and backpropagation against numerical gradients in f64 on odd sizes, a stride of 2,
//! padding, a second convolution (whose input gradient is then needed) and overlapping
//! pooling windows.

use crate::common;
use typenet::layer::{Layer, Mode};
use typenet::prelude::*;
use typenet::{Conv2d, MaxPool};

network! {
    /// Odd sides, stride 2 and padding 1 first; then padding 1 with stride 1, and 3×3
    /// windows every pixel (they overlap).
    pub struct Deep< Input<2, 7, 11>, Conv2d<2, 3, 3, 2, 1>, Relu, Conv2d<3, 4, 3, 1, 1>,
                     MaxPool<3, 1>, Sigmoid, Affine<32, 5>, SoftmaxWithLoss >
}

network! {
    /// The book's layer order, small: convolution, ReLU, pooling, affine.
    pub struct Small< Input<1, 5, 5>, Conv2d<1, 2, 2>, Relu, MaxPool<2>, Affine<8, 3>, SoftmaxWithLoss >
}

/// `max |backprop − numerical|` and `max |numerical|` of every trained tensor.
fn differences<N: Network<f64>>(
    backprop: &N,
    numerical: &N,
) -> Vec<(typenet::TensorInfo, f64, f64)> {
    N::tensors()
        .enumerate()
        .filter(|(_, info)| info.is_trained())
        .map(|(i, info)| {
            let (a, n) = (backprop.tensor(i).unwrap(), numerical.tensor(i).unwrap());
            let diff = a
                .iter()
                .zip(n)
                .map(|(a, n)| (a - n).abs())
                .fold(0.0, f64::max);
            (info, diff, n.iter().map(|v| v.abs()).fold(0.0, f64::max))
        })
        .collect()
}

/// `max |backprop − numerical| / max |numerical|` per tensor, none of them all but zero.
fn relative_errors<N: Network<f64>>(backprop: &N, numerical: &N) -> Vec<(String, f64)> {
    differences(backprop, numerical)
        .into_iter()
        .map(|(info, diff, scale)| {
            assert!(
                scale > 1e-6,
                "{info}: the gradient is all but zero ({scale:e})"
            );
            (info.to_string(), diff / scale)
        })
        .collect()
}

fn samples<const N: usize, const B: usize>(seed: u64) -> [[f64; N]; B] {
    let mut rng = Rng::new(seed);
    core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()))
}

#[test]
fn a_deep_conv_net_backpropagates_the_numerical_gradient() {
    let mut net = Deep::<f64>::with_init(Init::He, 3);
    let x = samples::<154, 3>(1);
    let t = [0, 4, 2].map(|c| Class::new(c).unwrap());
    let (mut numerical, mut backprop) = (Deep::zeros(), Deep::zeros());
    net.numerical_gradient(&x, &t, &mut numerical);
    net.gradient(&x, &t, &mut Deep::new_cache(), &mut backprop);
    let errors = relative_errors(&backprop, &numerical);
    let names: Vec<&str> = errors.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "conv1.W",
            "conv1.b",
            "conv2.W",
            "conv2.b",
            "affine1.W",
            "affine1.b"
        ]
    );
    for (name, err) in &errors {
        println!("{name}: {err:.1e}");
        assert!(*err <= 1e-7, "{name}: relative error {err:e}");
    }
}

#[test]
fn the_books_layer_order_backpropagates_the_numerical_gradient() {
    let mut net = Small::<f64>::with_init(Init::He, 5);
    let x = samples::<25, 4>(2);
    let t = [0, 1, 2, 1].map(|c| Class::new(c).unwrap());
    let (mut numerical, mut backprop) = (Small::zeros(), Small::zeros());
    net.numerical_gradient(&x, &t, &mut numerical);
    net.gradient(&x, &t, &mut Small::new_cache(), &mut backprop);
    for (name, err) in relative_errors(&backprop, &numerical) {
        println!("{name}: {err:.1e}");
        assert!(err <= 1e-7, "{name}: relative error {err:e}");
    }
}

/// One 3×3 image, one 3×3 kernel, stride 2, padding 1: the padded image is 5×5 and the
/// kernel lands on its four corners, each window overlapping the image by 2×2 pixels.
#[test]
fn a_padded_strided_convolution_matches_the_hand_computed_one() {
    type C = Conv2d<f64, 1, 1, 3, 2, 1, 3, 3, 2, 2, 9, 4>;
    let w = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]];
    let conv = C { w: [[w]], b: [0.5] };
    let x = [[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]];
    let mut y = [[[[0.0; 2]; 2]]];
    conv.forward(&x, &mut y, Mode::Infer);
    // Top left: x[0..2][0..2] under w[1..3][1..3] = 5·1 + 6·2 + 8·4 + 9·5; top right:
    // x[0..2][1..3] under w[1..3][0..2] = 4·2 + 5·3 + 7·5 + 8·6; and so on.
    assert_eq!(y, [[[[94.5, 106.5], [106.5, 94.5]]]]);

    // Backward with every output gradient 1: dW sums each weight's inputs over the four
    // windows, dx sums the weights each input met.
    let mut grads = C::zeros();
    let mut dx = [[[[0.0; 3]; 3]]];
    conv.backward(&x, &y, &[[[[1.0; 2]; 2]]], &mut grads, Some(&mut dx));
    let ring = [[5.0, 10.0, 5.0], [10.0, 20.0, 10.0], [5.0, 10.0, 5.0]];
    assert_eq!(grads.w, [[ring]]);
    assert_eq!(grads.b, [4.0]);
    assert_eq!(dx, [[ring]]);
}

#[test]
fn max_pooling_takes_each_windows_maximum_and_routes_its_gradient_there() {
    type Pool = MaxPool<1, 4, 4, 2, 2, 2, 2>;
    let x = [[[
        [1.0f64, 2.0, 0.0, 1.0],
        [3.0, 4.0, 1.0, 0.0],
        [0.0, 0.0, 5.0, 6.0],
        [9.0, 0.0, 6.0, 2.0],
    ]]];
    let mut y = [[[[0.0; 2]; 2]]];
    Pool::default().forward(&x, &mut y, Mode::Infer);
    assert_eq!(y, [[[[4.0, 1.0], [9.0, 6.0]]]]);
    let mut dx = [[[[0.0; 4]; 4]]];
    let dy = [[[[10.0, 20.0], [30.0, 40.0]]]];
    Pool::default().backward(&x, &y, &dy, &mut Pool::default(), Some(&mut dx));
    // Ties (the 1s of the top-right window) go to the first in reading order.
    assert_eq!(
        dx,
        [[[
            [0.0, 0.0, 0.0, 20.0],
            [0.0, 10.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 40.0],
            [30.0, 0.0, 0.0, 0.0],
        ]]]
    );
}

#[test]
fn the_simple_conv_net_has_the_books_shapes() {
    network! {
        struct SimpleConvNet< Input<1, 28, 28>, Conv2d<1, 30, 5>, Relu, MaxPool<2>,
                              Affine<4320, 100>, Relu, Affine<100, 10>, SoftmaxWithLoss >
    }
    let names: Vec<String> = SimpleConvNet::<f32>::tensors()
        .map(|t| format!("{t} {:?}", t.shape))
        .collect();
    assert_eq!(
        names,
        [
            "conv1.W [30, 1, 5, 5]",
            "conv1.b [30]",
            "affine1.W [4320, 100]",
            "affine1.b [100]",
            "affine2.W [100, 10]",
            "affine2.b [10]",
        ]
    );
    assert_eq!(
        SimpleConvNet::<f32>::PARAMS,
        30 * 25 + 30 + 4320 * 100 + 100 + 1010
    );
    // Images go in as they are. The network holds 1.7 MB of parameters, close to a test
    // thread's whole stack.
    common::on_large_stack(|| {
        let net = Box::new(SimpleConvNet::<f32>::new(1));
        let image = [[[0.5f32; 28]; 28]; 1];
        let flat = [0.5f32; 784];
        assert_eq!(net.predict(&[image]), net.predict(&[flat]));
    });
}

network! {
    /// Chapter 6's layers between chapter 7's: batch normalisation per channel after a
    /// convolution and per feature after an affine layer, and dropout.
    pub struct Normalised< Input<1, 6, 6>, Conv2d<1, 3, 3>, BatchNorm, Relu, MaxPool<2>,
                           Affine<12, 5>, BatchNorm, Sigmoid, Dropout, Affine<5, 3>, SoftmaxWithLoss >
}

/// The training-mode loss, which uses the batch's statistics and the dropout mask of the
/// current seed (fixed while the parameters move).
fn train_loss<const B: usize>(net: &Normalised<f64>, x: &[[f64; 36]; B], t: &[Class<3>; B]) -> f64 {
    net.forward(x, t, &mut Normalised::new_cache())
}

#[test]
fn batch_norm_and_dropout_backpropagate_the_numerical_gradient() {
    let mut net = Normalised::<f64>::with_init(Init::He, 7);
    net.dropout1.seed = [12_345.0];
    let x = samples::<36, 5>(3);
    let t = [0, 2, 1, 1, 0].map(|c| Class::new(c).unwrap());
    let (mut numerical, mut backprop) = (Normalised::zeros(), Normalised::zeros());
    typenet::gradcheck::numerical_gradient(&mut net, &mut numerical, |n| train_loss(n, &x, &t));
    net.gradient(&x, &t, &mut Normalised::new_cache(), &mut backprop);
    let mut checked = Vec::new();
    for (info, diff, scale) in differences(&backprop, &numerical) {
        checked.push(info.to_string());
        if info.name == "b" && ["conv1", "affine1"].contains(&info.layer) {
            // A bias right before a batch norm does not change the loss (the mean is
            // subtracted again): both gradients are zero.
            assert!(scale < 1e-9 && diff < 1e-9, "{info}: {scale:e}, {diff:e}");
            continue;
        }
        assert!(
            scale > 1e-6,
            "{info}: the gradient is all but zero ({scale:e})"
        );
        println!("{info}: {:.1e}", diff / scale);
        assert!(
            diff / scale <= 1e-7,
            "{info}: relative error {:e}",
            diff / scale
        );
    }
    assert_eq!(
        checked,
        [
            "conv1.W",
            "conv1.b",
            "batch_norm1.gamma",
            "batch_norm1.beta",
            "affine1.W",
            "affine1.b",
            "batch_norm2.gamma",
            "batch_norm2.beta",
            "affine2.W",
            "affine2.b"
        ]
    );
    // The state tensors carry their next values: the running statistics move a tenth of the
    // way to the batch's, and dropout draws another seed.
    assert_ne!(backprop.dropout1.seed, net.dropout1.seed);
    assert!(backprop.batch_norm1.running_var.iter().all(|v| *v > 0.0));
}

#[test]
fn a_training_step_commits_the_state_and_inference_uses_it() {
    let mut net = Normalised::<f64>::with_init(Init::He, 7);
    let x = samples::<36, 8>(4);
    let t = [0, 2, 1, 1, 0, 2, 1, 0].map(|c| Class::new(c).unwrap());
    let mut grads = Normalised::zeros();
    net.gradient(&x, &t, &mut Normalised::new_cache(), &mut grads);
    let mut sgd = Sgd::new(0.1);
    sgd.step(&mut net, &grads);
    assert_eq!(net.batch_norm2.running_mean, grads.batch_norm2.running_mean);
    assert_eq!(net.dropout1.seed, grads.dropout1.seed);
    // Inference: dropout scales by 1 − ratio, batch norm uses the running statistics.
    let mut probe = net.clone();
    probe.dropout1.ratio = 0.0;
    probe.batch_norm1.running_mean = [0.0; 3];
    probe.batch_norm1.running_var = [1.0 - 1e-6; 3];
    assert_ne!(probe.predict(&x), net.predict(&x));
    // In inference, dropout of ratio r is a scale of 1 − r.
    let mut half = net.clone();
    half.dropout1.ratio = 0.5;
    let mut none = net.clone();
    none.dropout1.ratio = 0.0;
    none.affine2.w = half.affine2.w.map(|r| r.map(|w| w * 0.5));
    let (a, b) = (half.predict(&x), none.predict(&x));
    for (a, b) in a.as_flattened().iter().zip(b.as_flattened()) {
        assert!((a - b).abs() < 1e-12);
    }
}

/// Every layer is built in, so the byte decoder is a `const fn`: a convolutional network's
/// weights can be decoded into a `static` at compile time (in flash).
#[test]
fn a_conv_net_decodes_its_weights_in_a_const_fn() {
    const ZEROS: [u8; Small::<f32>::BYTE_LEN] = [0; Small::<f32>::BYTE_LEN];
    static NET: Small<f32> = Small::<f32>::from_le_bytes(&ZEROS);
    assert_eq!(NET, Small::zeros());
    let dir = common::scratch("conv-raw");
    let net = Small::<f32>::with_init(Init::He, 9);
    typenet::io::save_raw(&net, dir.join("w.bin")).unwrap();
    let bytes: [u8; Small::<f32>::BYTE_LEN] = std::fs::read(dir.join("w.bin"))
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(Small::<f32>::from_le_bytes(&bytes), net);
    let loaded: Small<f32> = typenet::io::load_safetensors({
        typenet::io::save_safetensors(&net, dir.join("w.safetensors")).unwrap();
        dir.join("w.safetensors")
    })
    .unwrap();
    assert_eq!(loaded, net);
}
