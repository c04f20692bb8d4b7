//! Every layer's backward pass, alone, against numerical differentiation, in f32 and f64.

use typenet::{Affine, Class, Relu, Rng, Scalar, Sigmoid, SoftmaxWithLoss};

/// Central difference of `f` at `x[k]` with step `h`.
fn numeric<T: Scalar>(x: &mut [T], k: usize, h: f64, mut f: impl FnMut(&[T]) -> f64) -> f64 {
    let orig = x[k];
    x[k] = orig + T::from_f64(h);
    let plus = f(x);
    x[k] = orig - T::from_f64(h);
    let minus = f(x);
    x[k] = orig;
    (plus - minus) / (2.0 * h)
}

fn random<T: Scalar, const R: usize, const C: usize>(
    rng: &mut Rng,
    away_from_zero: bool,
) -> [[T; C]; R] {
    let mut m = [[T::zero(); C]; R];
    for v in m.iter_mut().flatten() {
        let mut x = rng.normal();
        if away_from_zero && x.abs() < 0.1 {
            x += 0.2f64.copysign(x); // keep clear of the ReLU kink
        }
        *v = T::from_f64(x);
    }
    m
}

fn assert_close(what: &str, analytic: f64, numeric: f64, tol: f64) {
    let err = (analytic - numeric).abs() / (1.0 + numeric.abs());
    assert!(
        err < tol,
        "{what}: backprop {analytic} vs numerical {numeric} (rel. error {err:e})"
    );
}

/// `L = Σ g ⊙ y`, whose gradient with respect to `y` is `g`.
fn weighted<T: Scalar>(y: &[T], g: &[T]) -> f64 {
    y.iter().zip(g).map(|(a, b)| (*a * *b).as_f64()).sum()
}

fn check_elementwise<T: Scalar>(h: f64, tol: f64) {
    let mut rng = Rng::new(5);
    let x: [[T; 7]; 3] = random(&mut rng, true);
    let g: [[T; 7]; 3] = random(&mut rng, false);

    let mut out = [[T::zero(); 7]; 3];
    Relu::<7>.forward(&x, &mut out);
    let mut dx = g;
    Relu::<7>.backward(&out, &mut dx);
    let mut xs = x;
    for k in 0..21 {
        let num = numeric(xs.as_flattened_mut(), k, h, |xf| {
            let mut y = [[T::zero(); 7]; 3];
            let xa: [[T; 7]; 3] = *<&[[T; 7]; 3]>::try_from(xf.as_chunks::<7>().0).unwrap();
            Relu::<7>.forward(&xa, &mut y);
            weighted(y.as_flattened(), g.as_flattened())
        });
        assert_close("Relu dx", dx.as_flattened()[k].as_f64(), num, tol);
    }

    Sigmoid::<7>.forward(&x, &mut out);
    let mut dx = g;
    Sigmoid::<7>.backward(&out, &mut dx);
    for k in 0..21 {
        let num = numeric(xs.as_flattened_mut(), k, h, |xf| {
            let mut y = [[T::zero(); 7]; 3];
            let xa: [[T; 7]; 3] = *<&[[T; 7]; 3]>::try_from(xf.as_chunks::<7>().0).unwrap();
            Sigmoid::<7>.forward(&xa, &mut y);
            weighted(y.as_flattened(), g.as_flattened())
        });
        assert_close("Sigmoid dx", dx.as_flattened()[k].as_f64(), num, tol);
    }
}

fn check_affine<T: Scalar>(h: f64, tol: f64) {
    let mut rng = Rng::new(11);
    // Input given as 2×3 "images": Affine reshapes to 6 and restores the shape in dx.
    let x: [[[T; 3]; 2]; 5] = {
        let flat: [[T; 6]; 5] = random(&mut rng, false);
        let mut x = [[[T::zero(); 3]; 2]; 5];
        for (xi, fi) in x.iter_mut().zip(flat.iter()) {
            for (k, v) in fi.iter().enumerate() {
                xi[k / 3][k % 3] = *v;
            }
        }
        x
    };
    let mut layer = Affine::<T, 6, 4> {
        w: random(&mut rng, false),
        b: random::<T, 1, 4>(&mut rng, false)[0],
    };
    let g: [[T; 4]; 5] = random(&mut rng, false);
    let loss = |layer: &Affine<T, 6, 4>, x: &[[[T; 3]; 2]; 5]| {
        let mut y = [[T::zero(); 4]; 5];
        layer.forward_shaped(x, &mut y);
        weighted(y.as_flattened(), g.as_flattened())
    };

    let mut grad = Affine::zeros();
    let mut dx = [[[T::zero(); 3]; 2]; 5];
    layer.backward_shaped(&x, &g, &mut grad, &mut dx);

    for k in 0..24 {
        let fixed = layer;
        let num = numeric(layer.w.as_flattened_mut(), k, h, |w| {
            let mut l = fixed;
            l.w.as_flattened_mut().copy_from_slice(w);
            loss(&l, &x)
        });
        assert_close("Affine dW", grad.w.as_flattened()[k].as_f64(), num, tol);
    }
    for k in 0..4 {
        let fixed = layer;
        let num = numeric(&mut layer.b, k, h, |b| {
            let mut l = fixed;
            l.b.copy_from_slice(b);
            loss(&l, &x)
        });
        assert_close("Affine db", grad.b[k].as_f64(), num, tol);
    }
    let mut xs = x;
    for k in 0..30 {
        let num = numeric(xs.as_flattened_mut().as_flattened_mut(), k, h, |xf| {
            let mut xa = x;
            xa.as_flattened_mut().as_flattened_mut().copy_from_slice(xf);
            loss(&layer, &xa)
        });
        let analytic = dx.as_flattened().as_flattened()[k].as_f64();
        assert_close("Affine dx (original shape)", analytic, num, tol);
    }
}

fn check_softmax<T: Scalar>(h: f64, tol: f64) {
    let mut rng = Rng::new(3);
    let x: [[T; 5]; 4] = random(&mut rng, false);
    let classes = [3usize, 0, 4, 1].map(|c| Class::<5>::new(c).unwrap());
    let one_hot = classes.map(|c| {
        let mut row = [T::zero(); 5];
        row[c.index()] = T::one();
        row
    });
    // Soft targets (rows summing to 1) exercise the general cross-entropy.
    let soft: [[T; 5]; 4] = [[T::from_f64(0.2); 5]; 4];

    let layer = SoftmaxWithLoss::<5>;
    let mut y = [[T::zero(); 5]; 4];
    let loss_class = layer.forward(&x, &classes, &mut y);
    let loss_hot = layer.forward(&x, &one_hot, &mut y);
    assert_close(
        "class and one-hot losses agree",
        loss_class.as_f64(),
        loss_hot.as_f64(),
        tol,
    );
    for row in &y {
        let s: f64 = row.iter().map(|v| v.as_f64()).sum();
        assert_close("softmax rows sum to 1", s, 1.0, tol);
    }

    let mut dx = [[T::zero(); 5]; 4];
    layer.backward(&y, &classes, &mut dx);
    let mut dx_soft = [[T::zero(); 5]; 4];
    layer.backward(&y, &soft, &mut dx_soft);
    let mut xs = x;
    for k in 0..20 {
        let num = numeric(xs.as_flattened_mut(), k, h, |xf| {
            let xa: [[T; 5]; 4] = *<&[[T; 5]; 4]>::try_from(xf.as_chunks::<5>().0).unwrap();
            layer
                .forward(&xa, &classes, &mut [[T::zero(); 5]; 4])
                .as_f64()
        });
        assert_close(
            "SoftmaxWithLoss dx",
            dx.as_flattened()[k].as_f64(),
            num,
            tol,
        );
        let num = numeric(xs.as_flattened_mut(), k, h, |xf| {
            let xa: [[T; 5]; 4] = *<&[[T; 5]; 4]>::try_from(xf.as_chunks::<5>().0).unwrap();
            layer.forward(&xa, &soft, &mut [[T::zero(); 5]; 4]).as_f64()
        });
        assert_close(
            "SoftmaxWithLoss dx (soft targets)",
            dx_soft.as_flattened()[k].as_f64(),
            num,
            tol,
        );
    }

    // Rows that do not sum to one: no target at all, unnormalised weights, and label
    // smoothing (0.9 on the class, 0.1 spread over all five, which sums to one only up to
    // rounding). The gradient is the derivative of the loss that `forward` returns.
    let f = T::from_f64;
    let rows: [[T; 5]; 4] = [
        [T::zero(); 5],
        [f(0.5), f(0.0), f(2.0), f(0.25), f(0.0)],
        [f(0.02), f(0.02), f(0.02), f(0.92), f(0.02)],
        [f(3.0), f(0.0), f(0.0), f(0.0), f(1.0)],
    ];
    layer.forward(&x, &rows, &mut y);
    let mut dx_rows = [[T::one(); 5]; 4];
    layer.backward(&y, &rows, &mut dx_rows);
    assert!(
        dx_rows[0].iter().all(|d| *d == T::zero()),
        "no target, no gradient"
    );
    for k in 0..20 {
        let num = numeric(xs.as_flattened_mut(), k, h, |xf| {
            let xa: [[T; 5]; 4] = *<&[[T; 5]; 4]>::try_from(xf.as_chunks::<5>().0).unwrap();
            layer.forward(&xa, &rows, &mut [[T::zero(); 5]; 4]).as_f64()
        });
        assert_close(
            "SoftmaxWithLoss dx (rows not summing to 1)",
            dx_rows.as_flattened()[k].as_f64(),
            num,
            tol,
        );
    }
}

#[test]
fn softmax_is_stable_for_huge_logits() {
    let x = [[1000.0f32, 0.0, -1000.0]];
    let t = [Class::<3>::new(2).unwrap()];
    let mut y = [[0.0; 3]];
    let loss = SoftmaxWithLoss::<3>.forward(&x, &t, &mut y);
    assert_eq!(y, [[1.0, 0.0, 0.0]]);
    assert_eq!(
        loss, 2000.0,
        "log-sum-exp gives the exact loss, not log(1e-7)"
    );
}

#[test]
fn elementwise_f64() {
    check_elementwise::<f64>(1e-4, 1e-8);
}
#[test]
fn elementwise_f32() {
    check_elementwise::<f32>(1e-2, 2e-3);
}
#[test]
fn affine_f64() {
    check_affine::<f64>(1e-4, 1e-8);
}
#[test]
fn affine_f32() {
    check_affine::<f32>(1e-2, 2e-3);
}
#[test]
fn softmax_with_loss_f64() {
    check_softmax::<f64>(1e-4, 1e-8);
}
#[test]
fn softmax_with_loss_f32() {
    check_softmax::<f32>(1e-2, 2e-3);
}
