//! Section 5.7.3 on real digits: backprop against numerical differentiation, in f64, on
//! the first 3 training samples of the bundled data, for the card's network.

use crate::common;

use typenet::gradcheck::{mean_abs_diff, near_relu_kink};
use typenet::prelude::*;

network! {
    /// The two-layer net of chapter 5.
    pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}

struct Check {
    diffs: Vec<(String, f64)>,
    near_kink: usize,
    backprop: TwoLayerNet<f64>,
}

fn check(seed: u64) -> Check {
    let mnist = common::bundled::<f64>();
    let (x, t) = mnist.train.check_for::<TwoLayerNet<f64>>().unwrap();
    let x: &[[f64; 784]; 3] = x[..3].try_into().unwrap();
    let t: [Class<10>; 3] = t[..3].try_into().unwrap();

    let mut net = TwoLayerNet::<f64>::new(seed);
    let (mut numerical, mut backprop) = (TwoLayerNet::zeros(), TwoLayerNet::zeros());
    net.numerical_gradient(x, &t, &mut numerical);
    let loss = net.gradient(x, &t, &mut TwoLayerNet::new_cache(), &mut backprop);
    assert!(
        (loss - 10f64.ln()).abs() < 0.05,
        "an untrained 10-class net has loss ≈ ln 10, got {loss}"
    );
    let mut pre = [[0.0; 50]; 3];
    net.affine1.forward(x, &mut pre);
    Check {
        diffs: mean_abs_diff(&backprop, &numerical)
            .map(|(info, d)| (info.to_string(), d))
            .collect(),
        near_kink: near_relu_kink(pre.as_flattened()),
        backprop,
    }
}

#[test]
fn backprop_matches_numerical_gradient_on_real_digits() {
    let c = check(0);
    assert_eq!(
        c.near_kink, 0,
        "seed 0 keeps every hidden pre-activation away from the kink"
    );
    let names: Vec<_> = c.diffs.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(names, ["affine1.W", "affine1.b", "affine2.W", "affine2.b"]);
    for (name, diff) in &c.diffs {
        println!("{name}: {diff:.1e}");
        assert!(
            *diff < 1e-9,
            "{name}: mean |backprop - numerical| = {diff:e}"
        );
    }
    // The gradients compared are not trivially zero.
    for (i, info) in <TwoLayerNet<f64> as Network<f64>>::tensors().enumerate() {
        let g = c.backprop.tensor(i).unwrap();
        let mean: f64 = g.iter().map(|v| v.abs()).sum::<f64>() / g.len() as f64;
        assert!(
            mean > 1e-6,
            "{info}: mean |gradient| {mean:e} is suspiciously small"
        );
    }
}

#[test]
fn a_pre_activation_at_the_relu_kink_is_reported() {
    // With seed 2 one hidden pre-activation lies within h of 0: central differences
    // straddle the kink and W1/b1 disagree far beyond rounding. The check must say so.
    let c = check(2);
    assert_eq!(c.near_kink, 1);
    let b1 = c.diffs[1].1;
    assert!(b1 > 1e-7, "b1 differs by {b1:e} at the kink");
    assert!(
        c.diffs[2].1 < 1e-9 && c.diffs[3].1 < 1e-9,
        "layer 2 is unaffected: {:?}",
        c.diffs
    );
}
