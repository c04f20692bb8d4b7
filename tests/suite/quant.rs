//! int8 networks: the quantized layers against their `f32` originals, the raw layout, the
//! files, and accuracy on the bundled digits.

use crate::common::{bundled, scratch};
use typenet::prelude::*;
use typenet::quant::{Int8Network, Quant, QuantError, Requant};
use typenet::train::{accuracy, Trainer};

network! {
    /// The two-layer net of chapter 5.
    pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}

network! {
    /// Odd sizes, stride 2 and padding 1, a `Relu` that is not fused, and a `Dropout`.
    pub struct OddConv< Input<2, 7, 7>, Conv2d<2, 3, 3, 2, 1>, MaxPool<2, 1>, Relu,
                        Dropout, Affine<27, 5>, SoftmaxWithLoss >
}

network! {
    /// `BatchNorm` per channel and per feature, each folded into the layer before it.
    pub struct Normed< Input<1, 6, 6>, Conv2d<1, 4, 3>, BatchNorm, Relu, MaxPool<2>,
                       Affine<16, 8>, BatchNorm, Relu, Affine<8, 3>, SoftmaxWithLoss >
}

/// Samples in `[0, 1)` from a fixed generator.
fn samples<const N: usize>(count: usize, seed: u64) -> Vec<[f32; N]> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| std::array::from_fn(|_| rng.next_f64() as f32))
        .collect()
}

/// Largest difference between the int8 logits, dequantized, and the `f32` scores, in
/// output steps.
fn worst_steps<const C: usize>(f32_scores: &[f32; C], int8: &[i8; C], out: Quant) -> f32 {
    f32_scores
        .iter()
        .zip(int8)
        .map(|(s, &q)| (s - out.dequantize(q)).abs() / out.scale)
        .fold(0.0, f32::max)
}

/// The worst [`worst_steps`] over `samples`, printed. On calibration samples nothing
/// saturates: what is left is the rounding of the input, the weights and the activations.
fn worst_over<const N: usize, const C: usize>(
    samples: &[[f32; N]],
    f32_scores: impl Fn(&[f32; N]) -> [f32; C],
    int8_logits: impl Fn(&[f32; N]) -> [i8; C],
    out: Quant,
) -> f32 {
    let worst = samples
        .iter()
        .map(|x| worst_steps(&f32_scores(x), &int8_logits(x), out))
        .fold(0.0, f32::max);
    println!("worst |f32 − int8| {worst:.2} steps of {}", out.scale);
    worst
}

#[test]
fn int8_convolution_with_stride_padding_and_pooling_follows_the_f32_network() {
    let net = OddConv::<f32>::with_init(Init::He, 3);
    let calibration = samples::<98>(64, 1);
    let int8: OddConvInt8 = net.quantize(&calibration).unwrap();
    let worst = worst_over(
        &calibration,
        |x| net.predict(&[*x])[0],
        |x| int8.predict(&int8.quantize_input(x)),
        int8.affine1.channels.output,
    );
    assert!(worst <= 3.0, "{worst} steps");
}

#[test]
fn batch_norm_is_folded_into_the_layer_before_it() {
    let mut net = Normed::<f32>::with_init(Init::He, 4);
    let mut rng = Rng::new(8);
    let mut draw = |v: &mut [f32], lo: f64, hi: f64| {
        v.iter_mut()
            .for_each(|v| *v = (lo + (hi - lo) * rng.next_f64()) as f32)
    };
    draw(&mut net.batch_norm1.gamma, 0.5, 2.0);
    draw(&mut net.batch_norm1.beta, -0.5, 0.5);
    draw(&mut net.batch_norm1.running_mean, -0.3, 0.3);
    draw(&mut net.batch_norm1.running_var, 0.2, 3.0);
    draw(&mut net.batch_norm2.gamma, 0.5, 2.0);
    draw(&mut net.batch_norm2.beta, -0.5, 0.5);
    draw(&mut net.batch_norm2.running_mean, -0.3, 0.3);
    draw(&mut net.batch_norm2.running_var, 0.2, 3.0);
    let calibration = samples::<36>(64, 6);
    let int8: NormedInt8 = net.quantize(&calibration).unwrap();
    let worst = worst_over(
        &calibration,
        |x| net.predict(&[*x])[0],
        |x| int8.predict(&int8.quantize_input(x)),
        int8.affine2.channels.output,
    );
    // 2.7 here; another machine's f32 kernels round the calibration differently.
    assert!(worst <= 4.0, "{worst} steps");
    // Three int8 stages with weights: the BatchNorms have none of their own.
    assert_eq!(<NormedInt8 as Int8Network>::TENSOR_COUNT, 2 + 3 * 5);
}

#[test]
fn int8_max_pool_and_relu_work_on_the_int8_values() {
    let pool = typenet::quant::MaxPool::<1, 4, 4, 2, 2, 2, 2, 16, 4>;
    let x: [i8; 16] = [1, 2, 0, 1, 3, 4, 1, 0, 0, 0, 5, 6, 9, -128, 7, 8];
    let mut y = [0i8; 4];
    pool.forward(&x, &mut y);
    assert_eq!(y, [4, 1, 9, 8]);
    let relu = typenet::quant::Relu::<4> { zero: -3 };
    let mut r = [0i8; 4];
    relu.forward(&[-128, -3, -2, 100], &mut r);
    assert_eq!(r, [-3, -3, -2, 100]);
}

#[test]
fn a_dense_layer_by_hand() {
    // y = relu(2·x0 − x1 + 0.5) on x in [0, 1] with scale 1/255 and zero −128.
    let mut affine = Affine::<f32, 2, 1>::zeros();
    affine.w = [[2.0], [-1.0]];
    affine.b = [0.5];
    let input = Quant::covering(0.0, 1.0).unwrap();
    assert_eq!((input.scale, input.zero), (1.0 / 255.0, -128));
    let output = Quant::covering(0.0, 2.5).unwrap();
    let dense = typenet::quant::Dense::<2, 1, true>::quantize(&affine, input, output).unwrap();
    // Weights: scale 2/127, so 2 → 127 and −1 → −64 (−63.5 rounded away from zero).
    assert_eq!(dense.channels.w, [[127, -64]]);
    for (x0, x1) in [(0.0, 0.0), (1.0, 0.0), (0.5, 1.0), (0.0, 1.0)] {
        let mut y = [0i8];
        dense.forward(&[input.quantize(x0), input.quantize(x1)], &mut y);
        let want = (2.0 * x0 - x1 + 0.5f32).max(0.0);
        let got = output.dequantize(y[0]);
        assert!(
            (got - want).abs() <= 1.5 * output.scale,
            "{x0}, {x1}: {got} vs {want}"
        );
    }
}

#[test]
fn the_raw_layout_round_trips_through_the_const_decoder() {
    let net = OddConv::<f32>::with_init(Init::He, 5);
    let int8 = net.quantize(&samples::<98>(16, 3)).unwrap();
    let bytes = int8.to_le_bytes();
    assert_eq!(bytes.len(), OddConvInt8::BYTE_LEN);
    assert_eq!(OddConvInt8::from_le_bytes(&bytes), int8);

    // And at compile time, into a `static`.
    static ZERO: OddConvInt8 = OddConvInt8::from_le_bytes(&[0; OddConvInt8::BYTE_LEN]);
    assert_eq!(ZERO.input.scale, 0.0);
}

#[test]
fn calibration_is_needed_and_must_be_finite() {
    let net = TwoLayerNet::<f32>::new(0);
    assert_eq!(
        net.quantize::<[f32; 784]>(&[]).unwrap_err(),
        QuantError::NoCalibration
    );
    let mut bad = [0.5f32; 784];
    bad[3] = f32::NAN;
    assert!(matches!(
        net.quantize(&[bad]).unwrap_err(),
        QuantError::Range { .. }
    ));
    let mut broken = net.clone();
    broken.affine2.w[0][0] = f32::INFINITY;
    assert!(matches!(
        broken.quantize(&[[0.5f32; 784]]).unwrap_err(),
        QuantError::Weight(_)
    ));
}

#[test]
fn invalid_scales_are_refused() {
    for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        assert!(
            matches!(Quant::new(bad, 0), Err(QuantError::Scale(_))),
            "{bad}"
        );
    }
    assert_eq!(
        Quant::new(1.0, 128).unwrap_err(),
        QuantError::ZeroPoint(128)
    );
    let net = TwoLayerNet::<f32>::new(0);
    let mut int8 = net.quantize(&[[0.5f32; 784]]).unwrap();
    int8.affine1.channels.w_scale[7] = 0.0;
    assert_eq!(int8.prepare().unwrap_err(), QuantError::Scale(0.0));
    assert!(Requant::from_real(f64::NAN).is_err());
}

/// The 784-50-10 MLP with the book's recipe, 10,000 steps.
fn trained_mlp(data: &typenet::io::Mnist<f32>) -> TwoLayerNet<f32> {
    let (x, t) = data.train.check_for::<TwoLayerNet>().unwrap();
    let mut trainer =
        Trainer::<f32, TwoLayerNet, _, 100>::new(TwoLayerNet::new(0), Sgd::new(0.1), 0);
    for _ in 0..10_000 {
        trainer.step(x, &t).unwrap();
    }
    trainer.net().clone()
}

#[test]
fn the_int8_mlp_is_within_half_a_point_of_f32_on_the_bundled_digits() {
    let data = bundled::<f32>();
    let net = trained_mlp(&data);
    let (x, _) = data.train.check_for::<TwoLayerNet>().unwrap();
    let (xt, tt) = data.test.check_for::<TwoLayerNet>().unwrap();
    let int8 = net.quantize(&x[..500]).unwrap();
    let f32_accuracy = accuracy(&net, xt, &tt);
    let hits = xt
        .iter()
        .zip(&tt)
        .filter(|(x, t)| int8.classify(&int8.quantize_input(*x)) == t.index())
        .count();
    let int8_accuracy = hits as f32 / xt.len() as f32;
    println!(
        "MLP on {} test digits: f32 {f32_accuracy:.4}, int8 {int8_accuracy:.4}",
        xt.len()
    );
    assert!(f32_accuracy >= 0.92);
    assert!(
        (f32_accuracy - int8_accuracy).abs() <= 0.005,
        "f32 {f32_accuracy}, int8 {int8_accuracy}"
    );
}

#[test]
fn int8_files_round_trip_and_bad_ones_are_refused() {
    let net = OddConv::<f32>::with_init(Init::He, 9);
    let int8 = net.quantize(&samples::<98>(16, 4)).unwrap();
    let path = scratch("int8").join("net.safetensors");
    typenet::io::save_int8(&int8, &path).unwrap();
    let back: OddConvInt8 = typenet::io::load_int8(&path).unwrap();
    assert_eq!(back, int8);

    // Another network's file.
    let err = typenet::io::load_int8::<TwoLayerNetInt8>(&path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("OddConv"), "{err}");

    // A zero scale.
    let mut broken = int8;
    broken.conv1.channels.w_scale[1] = 0.0;
    typenet::io::save_int8(&broken, &path).unwrap_err();
    let mut raw = safetensors_with(&int8, "conv1.W_scale", |v| v[1] = -2.0);
    std::fs::write(&path, &mut raw).unwrap();
    let err = typenet::io::load_int8::<OddConvInt8>(&path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("scale -2"), "{err}");
    std::fs::remove_file(&path).unwrap();
}

/// The safetensors file of `net` with the f32 tensor `name` changed by `edit`.
fn safetensors_with(net: &OddConvInt8, name: &str, edit: impl Fn(&mut [f32])) -> Vec<u8> {
    let path = scratch("int8-edit").join("net.safetensors");
    typenet::io::save_int8(net, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut tensors: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = file
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    for (n, _, _, data) in &mut tensors {
        if n == name {
            let mut values: Vec<f32> = data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect();
            edit(&mut values);
            *data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        }
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, d, s, data)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), data).unwrap(),
            )
        })
        .collect();
    std::fs::remove_file(&path).unwrap();
    safetensors::serialize(views, header.metadata().clone()).unwrap()
}

/// The int8 convolution (stride 2, padding 1) against the same integers convolved in `f64`
/// by the definition: each output within one step (the two roundings of `Requant`).
#[test]
fn int8_convolution_matches_its_definition_on_the_integers() {
    type F = Conv2d<f32, 2, 3, 3, 2, 1, 7, 7, 4, 4, 18, 16>;
    type Q = typenet::quant::Conv<2, 3, 3, 2, 1, 7, 7, 4, 4, 18, 98, 48, false>;
    let mut layer = <F as Layer<f32>>::zeros();
    let mut rng = Rng::new(11);
    for v in layer
        .w
        .as_flattened_mut()
        .as_flattened_mut()
        .as_flattened_mut()
    {
        *v = rng.normal() as f32;
    }
    layer.b = [0.3, -0.2, 0.1];
    let (input, output) = (
        Quant::covering(0.0, 1.0).unwrap(),
        Quant::covering(-4.0, 4.0).unwrap(),
    );
    let q = Q::quantize(&layer, input, output).unwrap();
    let x: [i8; 98] = std::array::from_fn(|_| (rng.below(256) as i32 - 128) as i8);
    let mut y = [0i8; 48];
    q.forward(&x, &mut y);
    let c = &q.channels;
    for co in 0..3 {
        for oy in 0..4 {
            for ox in 0..4 {
                let mut acc = c.b[co] as f64;
                for ci in 0..2 {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (iy, ix) = ((oy * 2 + ky) as i64 - 1, (ox * 2 + kx) as i64 - 1);
                            if (0..7).contains(&iy) && (0..7).contains(&ix) {
                                let v = x[ci * 49 + iy as usize * 7 + ix as usize] as f64
                                    - input.zero as f64;
                                acc += v * c.w[co][ci * 9 + ky * 3 + kx] as f64;
                            }
                        }
                    }
                }
                let real = input.scale as f64 * c.w_scale[co] as f64 / output.scale as f64;
                let want = (acc * real).round() + output.zero as f64;
                let want = want.clamp(-128.0, 127.0);
                let got = y[co * 16 + oy * 4 + ox] as f64;
                assert!(
                    (got - want).abs() <= 1.0,
                    "channel {co} ({oy}, {ox}): {got} vs {want}"
                );
            }
        }
    }
}
