//! Declarations the macro must accept, and what their generated code must do.

use typenet::gradcheck::mean_abs_diff;
use typenet::prelude::*;

network! {
    /// Named layers, explicit widths, stacked activations (each needs its own buffer).
    pub struct Deep< fc1: Affine<6, 5>, Sigmoid<5>, Sigmoid, fc2: typenet::Affine<5, 4>, Relu, act: Relu<4>, out: Affine<4, 3>, loss: SoftmaxWithLoss<3> >
}

network! {
    /// The XOR network the firmware trains on the device.
    struct Xor< Affine<2, 4>, Sigmoid, Affine<4, 2>, SoftmaxWithLoss >
}

network! {
    /// Logits straight from an activation, and a trailing comma.
    struct ActThenLoss< Affine<3, 2>, Relu, SoftmaxWithLoss, >
}

fn sample_batch<T: Scalar, const N: usize, const B: usize>(rng: &mut Rng) -> [[T; N]; B] {
    let mut x = [[T::zero(); N]; B];
    for v in x.iter_mut().flatten() {
        *v = T::from_f64(rng.normal());
    }
    x
}

#[test]
fn generated_fields_shapes_and_tensors() {
    let net = Deep::<f64>::with_init(Init::He, 3);
    assert_eq!(net.fc1.w.len(), 6);
    assert_eq!(net.out.b.len(), 3);
    assert_eq!(
        Deep::<f32>::LAYERS,
        [
            "Affine<6, 5>",
            "Sigmoid<5>",
            "Sigmoid",
            "Affine<5, 4>",
            "Relu",
            "Relu<4>",
            "Affine<4, 3>",
            "SoftmaxWithLoss<3>"
        ]
    );
    let names: Vec<_> = <Deep as Network<f32>>::tensors()
        .map(|t| (t.to_string(), t.shape))
        .collect();
    assert_eq!(
        names,
        [
            ("fc1.W".to_string(), &[6usize, 5][..]),
            ("fc1.b".to_string(), &[5][..]),
            ("fc2.W".to_string(), &[5, 4][..]),
            ("fc2.b".to_string(), &[4][..]),
            ("out.W".to_string(), &[4, 3][..]),
            ("out.b".to_string(), &[3][..])
        ]
    );
    assert_eq!(Deep::<f32>::PARAMS, 6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3);
    assert_eq!(<Deep as Network<f32>>::NAME, "Deep");
    // Every cache buffer is there: activations right after an Affine share its buffer.
    let cache = Deep::<f32>::new_cache::<2>();
    let _: &[[f32; 5]; 2] = &cache.fc1;
    let _: &[[f32; 5]; 2] = &cache.sigmoid2;
    let _: &[[f32; 4]; 2] = &cache.fc2;
    let _: &[[f32; 4]; 2] = &cache.act;
    let _: &[[f32; 3]; 2] = &cache.out;
    let _: &[[f32; 3]; 2] = &cache.loss;
}

fn gradient_check_deep<T: Scalar>(tol: f64) {
    let mut rng = Rng::new(17);
    let mut net = Deep::<T>::with_init(Init::Xavier, 5);
    let x: [[T; 6]; 4] = sample_batch(&mut rng);
    let t = [0, 2, 1, 2].map(|c| Class::new(c).unwrap());
    let (mut numerical, mut backprop) = (Deep::zeros(), Deep::zeros());
    net.numerical_gradient(&x, &t, &mut numerical);
    let loss = net.gradient(&x, &t, &mut Deep::new_cache(), &mut backprop);
    assert!(
        (loss.as_f64() - net.loss(&x, &t).as_f64()).abs() < 1e-12,
        "forward and loss agree"
    );
    for (name, diff) in mean_abs_diff(&backprop, &numerical) {
        assert!(diff < tol, "{name}: {diff:e}");
    }
}

#[test]
fn deep_network_backprop_matches_numerical_f64() {
    gradient_check_deep::<f64>(1e-9);
}

#[test]
fn shaped_input_and_one_hot_targets_match_flat_and_class_targets() {
    network! { struct Img< Affine<12, 4>, Relu, Affine<4, 3>, SoftmaxWithLoss > }
    let net = Img::<f64>::new(1);
    let mut rng = Rng::new(2);
    let flat: [[f64; 12]; 2] = sample_batch(&mut rng);
    let mut images = [[[0.0; 4]; 3]; 2];
    for (img, row) in images.iter_mut().zip(&flat) {
        img.as_flattened_mut().copy_from_slice(row);
    }
    let mut cubes = [[[[0.0; 2]; 2]; 3]; 2];
    for (c, row) in cubes.iter_mut().zip(&flat) {
        c.as_flattened_mut().as_flattened_mut().copy_from_slice(row);
    }
    assert_eq!(net.predict(&flat), net.predict(&images));
    assert_eq!(net.predict(&flat), net.predict(&cubes));
    let classes = [Class::new(2).unwrap(), Class::new(0).unwrap()];
    let one_hot = [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]];
    assert_eq!(net.loss(&flat, &classes), net.loss(&images, &one_hot));
    let (mut g1, mut g2) = (Img::zeros(), Img::zeros());
    net.gradient(&flat, &classes, &mut Img::new_cache(), &mut g1);
    net.gradient(&images, &one_hot, &mut Img::new_cache(), &mut g2);
    assert_eq!(g1, g2);
}

fn train_xor<T: Scalar, O: Optimizer<T, Xor<T>>>(mut opt: O, steps: usize) -> T {
    let x = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]].map(|r| r.map(T::from_f64));
    let t = [0, 1, 1, 0].map(|c| Class::new(c).unwrap());
    let mut net = Xor::<T>::with_init(Init::Xavier, 7);
    let (mut cache, mut grads) = (Xor::new_cache(), Xor::zeros());
    for _ in 0..steps {
        net.gradient(&x, &t, &mut cache, &mut grads);
        opt.step(&mut net, &grads);
    }
    assert_eq!(
        net.classify(&x),
        [0, 1, 1, 0],
        "{} did not learn XOR",
        opt.name()
    );
    net.accuracy(&x, &t)
}

#[test]
fn every_optimizer_learns_xor_in_f32_and_f64() {
    assert_eq!(train_xor::<f64, _>(Adam::new(0.05, 0.9, 0.999), 2_000), 1.0);
    assert_eq!(train_xor::<f32, _>(Adam::new(0.05, 0.9, 0.999), 2_000), 1.0);
    assert_eq!(train_xor::<f32, _>(Sgd::new(2.0), 5_000), 1.0);
    assert_eq!(train_xor::<f32, _>(Momentum::new(0.5, 0.9), 2_000), 1.0);
    assert_eq!(train_xor::<f32, _>(AdaGrad::new(0.5), 3_000), 1.0);
    assert_eq!(train_xor::<f32, _>(RmsProp::new(0.05, 0.99), 2_000), 1.0);
    assert_eq!(
        train_xor::<f32, _>(AnyOptimizer::by_name("adam", Some(0.05)).unwrap(), 2_000),
        1.0
    );
}

#[test]
fn activation_before_loss() {
    let net = ActThenLoss::<f32>::new(0);
    let s = net.predict(&[[1.0, -1.0, 0.5]]);
    assert!(
        s[0].iter().all(|v| *v >= 0.0),
        "scores come out of the Relu: {s:?}"
    );
}

// Weights decoded at compile time into a `static` (see the embedded firmware for the
// full-size version with `include_bytes!`).
const XOR_BYTES: [u8; Xor::<f32>::BYTE_LEN] = {
    let mut b = [0u8; Xor::<f32>::BYTE_LEN];
    let one = 1.0f32.to_le_bytes();
    let mut k = 0;
    while k < 4 {
        b[k] = one[k]; // affine1.W[0][0] = 1.0
        k += 1;
    }
    b
};
static XOR: Xor<f32> = Xor::<f32>::from_le_bytes(&XOR_BYTES);

#[test]
fn a_static_network_from_bytes() {
    assert_eq!(XOR.affine1.w[0], [1.0, 0.0, 0.0, 0.0]);
    assert_eq!(XOR.affine2.b, [0.0, 0.0]);
    assert_eq!(Xor::<f64>::BYTE_LEN, 2 * Xor::<f32>::BYTE_LEN);
}

#[test]
fn every_parameter_fits_in_one_array_sized_at_compile_time() {
    network! { struct Card< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss > }
    fn flat_len<T: Scalar, N: Network<T>>() -> usize {
        core::mem::size_of::<N::Flat>() / core::mem::size_of::<T>()
    }
    assert_eq!(flat_len::<f32, Card>(), 39_760);
    assert_eq!(flat_len::<f64, Deep<f64>>(), Deep::<f64>::PARAMS);
    let net = Card::<f32>::new(8);
    let flat = net.to_flat();
    assert_eq!(flat[39_759], net.affine2.b[9]);
    assert_eq!(Card::from_flat(&flat), net);
}

network![
    /// The list form: the same struct as `struct ListNet< … >`.
    pub ListNet = Affine<2, 4>, Sigmoid, Affine<4, 2>, SoftmaxWithLoss
];

#[test]
fn the_list_and_expression_forms_are_the_same_network() {
    // The list form declares the struct the angle-bracket form does.
    assert_eq!(ListNet::<f32>::LAYERS, Xor::<f32>::LAYERS);
    assert_eq!(
        ListNet::<f32>::new(3).affine1.w,
        Xor::<f32>::new(3).affine1.w
    );

    // The expression form is a value: an f32 network with the book's weights (seed 0) ...
    let net = network![Affine<2, 4>, Sigmoid, Affine<4, 2>, SoftmaxWithLoss];
    assert_eq!(net.affine1.w, Xor::<f32>::new(0).affine1.w);
    // ... or of another scalar type, which trains like any declared network.
    let mut net = network![f64; Affine<2, 4>, Sigmoid, Affine<4, 2>, SoftmaxWithLoss];
    Init::Xavier.apply(&mut net, &mut Rng::new(7));
    let x = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
    let t = [0, 1, 1, 0].map(|c| Class::new(c).unwrap());
    let mut trainer =
        typenet::train::Trainer::<f64, _, _, 4>::new(net, Adam::new(0.05, 0.9, 0.999), 1);
    for _ in 0..3000 {
        trainer.step(&x, &t).unwrap();
    }
    assert_eq!(typenet::train::accuracy(trainer.net(), &x, &t), 1.0);
}

#[test]
fn samples_in_slices_and_vectors_of_any_length() {
    let net = Xor::<f32>::with_init(Init::Xavier, 3);
    let mut rng = Rng::new(9);
    let x: Vec<[f32; 2]> = (0..70)
        .map(|_| [rng.normal() as f32, rng.normal() as f32])
        .collect();
    let t: Vec<Class<2>> = (0..70).map(|k| Class::new(k % 2).unwrap()).collect();

    // Every row is the score the array method gives for that sample alone.
    let mut scores = vec![[0.0f32; 2]; 70];
    net.predict_into(&x, &mut scores).unwrap();
    let mut classes = vec![0; 70];
    net.classify_into(&x, &mut classes).unwrap();
    for (k, s) in x.iter().enumerate() {
        let alone = net.predict(core::array::from_ref(s))[0];
        assert_eq!(scores[k], alone);
        assert_eq!(classes[k], typenet::argmax(&alone));
    }

    // Accuracy and mean loss over all 70, from batches of 32, 32 and 6 single samples.
    let hits = classes
        .iter()
        .zip(&t)
        .filter(|(c, t)| **c == t.index())
        .count();
    assert_eq!(net.accuracy_of(&x, &t).unwrap(), hits as f32 / 70.0);
    let mean: f32 = x
        .iter()
        .zip(&t)
        .map(|(x, t)| net.loss(core::array::from_ref(x), core::array::from_ref(t)))
        .sum::<f32>()
        / 70.0;
    assert!((net.loss_of(&x, &t).unwrap() - mean).abs() < 1e-6);

    // A length mismatch is an error, and nothing is written.
    let mut short = vec![[9.0f32; 2]; 69];
    let err = net.predict_into(&x, &mut short).unwrap_err();
    assert_eq!(err.to_string(), "70 samples but 69 targets or output rows");
    assert!(short.iter().all(|s| *s == [9.0; 2]));
    assert!(net.accuracy_of(&x, &t[..3]).is_err());
    assert_eq!(net.accuracy_of::<[f32; 2], Class<2>>(&[], &[]), Ok(0.0));
}
