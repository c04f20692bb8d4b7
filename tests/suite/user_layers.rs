//! Layers defined outside the crate, declared in `network!` next to the built-ins: they
//! train, pass the gradient check, save and load, and allocate nothing.

use crate::common;

use crate::common::user_layers::{Scale, Tanh, Unflatten};
use typenet::gradcheck::mean_abs_diff;
use typenet::prelude::*;
use typenet::train::Trainer;

network! {
    /// Built-ins and user layers: a user layer with parameters is written with `T`; the
    /// `Relu` after it takes its width from it (the compiler computes it).
    pub struct Mixed< Affine<4, 6>, Scale<T, 6>, Tanh<6>, Relu, Affine<6, 3>, SoftmaxWithLoss >
}

network! {
    /// A user layer that returns a 2-D sample, flattened again by the next `Affine`.
    pub struct Reshaped< Affine<4, 6>, Sigmoid, Unflatten<2, 3, 6>, Affine<6, 2>, SoftmaxWithLoss >
}

/// Three classes of 4-feature points: which of the first three features is largest.
fn points(n: usize, seed: u64) -> (Vec<[f64; 4]>, Vec<Class<3>>) {
    let mut rng = Rng::new(seed);
    let x: Vec<[f64; 4]> = (0..n)
        .map(|_| core::array::from_fn(|_| rng.normal()))
        .collect();
    let t = x
        .iter()
        .map(|p| Class::new(typenet::argmax(&p[..3])).unwrap())
        .collect();
    (x, t)
}

#[test]
fn the_tables_of_user_layers_name_their_tensors_and_roles() {
    let names: Vec<String> = Mixed::<f32>::tensors().map(|t| t.to_string()).collect();
    assert_eq!(
        names,
        [
            "affine1.W",
            "affine1.b",
            "scale1.s",
            "affine2.W",
            "affine2.b"
        ]
    );
    assert_eq!(Mixed::<f32>::PARAMS, 4 * 6 + 6 + 6 + 6 * 3 + 3);
    assert_eq!(Mixed::<f32>::CLASSES, 3);
    assert_eq!(
        Mixed::<f32>::LAYERS,
        [
            "Affine<4, 6>",
            "Scale<T, 6>",
            "Tanh<6>",
            "Relu",
            "Affine<6, 3>",
            "SoftmaxWithLoss"
        ]
    );
    // The roles decide initialisation: weights drawn, biases zero, a gain one.
    let net = Mixed::<f64>::with_init(Init::He, 3);
    assert!(net.affine1.w.iter().flatten().all(|w| *w != 0.0));
    assert_eq!((net.affine1.b, net.scale1.s), ([0.0; 6], [1.0; 6]));
}

#[test]
fn backpropagation_through_user_layers_matches_numerical_gradients() {
    let (x, t) = points(8, 1);
    let x: [[f64; 4]; 8] = x.try_into().unwrap();
    let t: [Class<3>; 8] = t.try_into().unwrap();
    let mut net = Mixed::<f64>::with_init(Init::Gaussian(0.8), 5);
    for (s, k) in net.scale1.s.iter_mut().zip(1..) {
        *s = 0.5 + 0.1 * k as f64;
    }
    let (mut backprop, mut numerical) = (Mixed::zeros(), Mixed::zeros());
    net.gradient(&x, &t, &mut Mixed::new_cache(), &mut backprop);
    net.numerical_gradient(&x, &t, &mut numerical);
    for (info, diff) in mean_abs_diff(&backprop, &numerical) {
        assert!(
            diff < 1e-9,
            "{info}: mean |backprop - numerical| = {diff:e}"
        );
    }
    assert!(
        backprop.scale1.s.iter().any(|g| g.abs() > 1e-4),
        "{backprop:?}"
    );

    let mut net = Reshaped::<f64>::with_init(Init::Gaussian(0.8), 2);
    let (mut backprop, mut numerical) = (Reshaped::zeros(), Reshaped::zeros());
    net.gradient(
        &x,
        &t.map(|c| Class::<2>::new(c.index() % 2).unwrap()),
        &mut Reshaped::new_cache(),
        &mut backprop,
    );
    net.numerical_gradient(
        &x,
        &t.map(|c| Class::<2>::new(c.index() % 2).unwrap()),
        &mut numerical,
    );
    for (info, diff) in mean_abs_diff(&backprop, &numerical) {
        assert!(
            diff < 1e-9,
            "{info}: mean |backprop - numerical| = {diff:e}"
        );
    }
}

#[test]
fn a_network_with_user_layers_trains() {
    let (x, t) = points(600, 2);
    let (x_test, t_test) = points(300, 3);
    let net = Mixed::<f64>::with_init(Init::He, 4);
    let before = typenet::train::accuracy(&net, &x_test, &t_test);
    let mut trainer = Trainer::<f64, _, _, 20>::new(net, Adam::new(0.01, 0.9, 0.999), 5);
    for _ in 0..1500 {
        trainer.step(&x, &t).unwrap();
    }
    let after = typenet::train::accuracy(trainer.net(), &x_test, &t_test);
    assert!(before < 0.6 && after > 0.93, "accuracy {before} -> {after}");
    // The gain trained too.
    assert!(trainer
        .net()
        .scale1
        .s
        .iter()
        .any(|s| (s - 1.0).abs() > 0.01));
}

#[test]
fn a_network_with_user_layers_saves_and_loads() {
    let dir = common::scratch("user-layers-io");
    let mut net = Mixed::<f32>::new(7);
    net.scale1.s = [0.5, 1.5, 2.0, -1.0, 0.25, 3.0];
    let path = dir.join("mixed.safetensors");
    typenet::io::save_safetensors(&net, &path).unwrap();
    let back: Mixed<f32> = typenet::io::load_safetensors(&path).unwrap();
    assert_eq!(back, net);

    let raw = dir.join("mixed.bin");
    typenet::io::save_raw(&net, &raw).unwrap();
    let bytes: [u8; Mixed::<f32>::BYTE_LEN] = std::fs::read(&raw).unwrap().try_into().unwrap();
    assert_eq!(Mixed::<f32>::from_le_bytes(&bytes), net);
    assert_eq!(Mixed::from_flat(&net.to_flat()), net);
}
