//! Training inside `typenet::parallel::keep_awake` (feature `parallel`): every kernel of
//! the book's batch of 100 splits across two threads, and the trained network is the one a
//! single thread trains, bit for bit.
#![cfg(feature = "parallel")]

use crate::common;

use typenet::data::Samples;
use typenet::parallel::keep_awake;
use typenet::prelude::*;
use typenet::train::Trainer;

network! {
    /// The two-layer net of chapter 5.
    pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}
type Net = TwoLayerNet<f32>;

/// `steps` training steps on `x` in a pool of `threads`, inside `keep_awake`: the losses
/// and the network.
fn train<X, O>(threads: usize, x: &X, t: &[Class<10>], opt: O, steps: usize) -> (Vec<f32>, Box<Net>)
where
    X: Samples<[f32; 784]> + Sync + ?Sized,
    O: Optimizer<f32, Net> + Clone + Send,
{
    // An Adam of this network holds 318 KB of state, which moves by value into rayon's
    // jobs: worker threads with the default 2 MB of stack can run out.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(16 << 20)
        .build()
        .unwrap();
    pool.install(|| {
        keep_awake(|| {
            assert_eq!(rayon::current_num_threads(), threads);
            let mut trainer = Trainer::<f32, Net, O, 100>::new(Net::new(0), opt, 3);
            let losses = (0..steps).map(|_| trainer.step(x, t).unwrap()).collect();
            (losses, trainer.into_net())
        })
    })
}

#[test]
fn two_threads_train_the_same_network_as_one() {
    let mnist = common::bundled::<f32>();
    let (x, t) = mnist.train.check_for::<Net>().unwrap();
    // Dense batches too: every pixel nonzero, so the dense kernels split as well.
    let dense: Vec<[f32; 784]> = x.iter().map(|r| r.map(|v| 0.01 + 0.99 * v)).collect();
    for (name, x) in [("digits", x), ("dense", &dense[..])] {
        let one = train(1, x, &t, Sgd::new(0.1), 40);
        let two = train(2, x, &t, Sgd::new(0.1), 40);
        assert!(one.0[39] < one.0[0], "{name}: the loss falls");
        assert_eq!(one.0, two.0, "{name}: SGD losses");
        assert!(one.1 == two.1, "{name}: SGD network");
        // Adam's state is updated in halves too.
        let one = train(1, x, &t, Adam::default(), 20);
        let two = train(2, x, &t, Adam::default(), 20);
        assert_eq!(one.0, two.0, "{name}: Adam losses");
        assert!(one.1 == two.1, "{name}: Adam network");
    }
    // Byte images, gathered in two halves.
    let bytes = typenet::io::load_mnist_pixels(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data"
    )))
    .unwrap();
    let (pixels, tp) = bytes.train.pixels_for::<f32, Net>().unwrap();
    let one = train(1, x, &t, Sgd::new(0.1), 40);
    let two = train(2, &pixels, &tp, Sgd::new(0.1), 40);
    assert_eq!(one.0, two.0, "byte pixels: losses");
    assert!(one.1 == two.1, "byte pixels: network");
}

#[test]
fn a_non_finite_gradient_is_caught_on_either_thread() {
    let mnist = common::bundled::<f32>();
    let (x, t) = mnist.train.check_for::<Net>().unwrap();
    // An infinite weight in each half of the first layer's rows (pixels near the centre,
    // which most digits cover): the loss and the gradients become non-finite, and the step
    // refuses to update.
    for row in [350, 406] {
        let mut net = Net::new(0);
        net.affine1.w[row] = [f32::INFINITY; 50];
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let (result, unchanged) = pool.install(|| {
            keep_awake(|| {
                let mut trainer = Trainer::<f32, Net, _, 100>::new(net.clone(), Sgd::new(0.1), 0);
                let result = trainer.step(x, &t);
                (result, *trainer.net() == net)
            })
        });
        assert!(
            matches!(result, Err(typenet::train::TrainError::Diverged { .. })),
            "row {row}: {result:?}"
        );
        assert!(
            unchanged,
            "row {row}: a diverged step must not update the network"
        );
    }
}

#[test]
fn gather_on_two_threads_copies_every_sample_or_reports_a_bad_index() {
    let x: Vec<[f32; 784]> = (0..300)
        .map(|i| core::array::from_fn(|j| (i * 784 + j) as f32))
        .collect();
    let picks: Vec<usize> = (0..100).map(|k| (k * 37) % 300).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let mut out = vec![[0.0f32; 784]; 100];
    assert!(pool.install(|| keep_awake(|| x.gather(&picks, &mut out))));
    for (o, &k) in out.iter().zip(&picks) {
        assert!(*o == x[k], "sample {k}");
    }
    // A bad index in either half is reported.
    for bad in [3, 97] {
        let mut picks = picks.clone();
        picks[bad] = 300;
        assert!(!pool.install(|| keep_awake(|| x.gather(&picks, &mut out))));
    }
}
