//! Speed of the card's network (784-50-10, f32, one thread): one training step at batch 100,
//! `predict` at batch 1 and 100, each layer's forward and backward, and the book's whole
//! 10,000-iteration run. Criterion reports time; the throughput lines report FLOP/s
//! (`Elements` are floating-point operations: 2 per multiply-add, counted as if dense, so
//! zero-skipping shows as a higher rate). The digits are about 81 % zero pixels; the
//! `dense` cases add 0.01 to every pixel so that no input can be skipped. `parallel_scaling`
//! times layer 1 at larger batches after a pause, for comparing one thread with two
//! (`--features parallel`); with that feature, `two_threads` times the training step, layer
//! 1 and the 10,000 iterations inside `typenet::parallel::keep_awake`.
//!
//! `cargo bench --bench typenet` (all), `cargo bench --bench typenet -- predict` (a group).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::path::Path;
use typenet::prelude::*;
use typenet::train::Trainer;

network! {
    /// The two-layer net of chapter 5.
    pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}
type Net = TwoLayerNet<f32>;

/// FLOPs of one forward pass per sample (2 per multiply-add).
const FWD: u64 = 2 * (784 * 50 + 50 * 10);
/// FLOPs of one training step per sample: forward, both weight gradients, and the hidden
/// layer's input gradient (the first layer's input gradient is not computed).
const STEP: u64 = FWD + 2 * (784 * 50 + 50 * 10) + 2 * 50 * 10;

fn digits() -> (Vec<[f32; 784]>, Vec<Class<10>>) {
    let mnist =
        typenet::io::load_mnist::<f32>(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data")))
            .expect("bundled digits");
    let (x, t) = mnist
        .train
        .check_for::<Net>()
        .expect("they fit the card's network");
    (x.to_vec(), t)
}

/// The bundled training digits as bytes, for [`typenet::data::Pixels`].
fn digit_bytes() -> typenet::data::Dataset<u8> {
    typenet::io::load_mnist_pixels(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data")))
        .expect("bundled digits")
        .train
}

/// The book's recipe: 10,000 SGD steps at batch 100 drawn from `(x, t)`.
fn book_recipe<X: typenet::data::Samples<[f32; 784]> + Sync + ?Sized>(
    x: &X,
    t: &[Class<10>],
) -> Box<Net> {
    let mut trainer = Trainer::<f32, Net, _, 100>::new(Net::new(0), Sgd::new(0.1), 0);
    for _ in 0..10_000 {
        trainer
            .step(x, t)
            .expect("the book's recipe does not diverge");
    }
    trainer.into_net()
}

fn batch<const B: usize>(x: &[[f32; 784]]) -> Box<[[f32; 784]; B]> {
    let mut b = Box::new([[0.0; 784]; B]);
    b.copy_from_slice(&x[..B]);
    b
}

/// `x` with every pixel nonzero (`0.01 + 0.99·x`), so no input can be skipped.
fn dense<const B: usize>(x: &[[f32; 784]; B]) -> Box<[[f32; 784]; B]> {
    Box::new(x.map(|r| r.map(|v| 0.01 + 0.99 * v)))
}

/// One SGD training step at batch 100 with its buffers, on the first 100 digits (`xb`) or
/// on them made dense (`xd`).
struct Step {
    xb: Box<[[f32; 784]; 100]>,
    xd: Box<[[f32; 784]; 100]>,
    tb: [Class<10>; 100],
    net: Box<Net>,
    cache: Box<TwoLayerNetCache<f32, 100>>,
    grads: Box<Net>,
    opt: Sgd<f32>,
}

impl Step {
    fn new() -> Step {
        let (x, t) = digits();
        let xb = batch::<100>(&x);
        Step {
            xd: dense(&xb),
            xb,
            tb: t[..100].try_into().unwrap(),
            net: Box::new(Net::new(0)),
            cache: Box::new(Net::new_cache::<100>()),
            grads: Box::new(Net::zeros()),
            opt: Sgd::new(0.1),
        }
    }

    /// One step on the digits, or on the dense batch.
    fn run(&mut self, dense: bool) {
        let x = if dense { &*self.xd } else { &*self.xb };
        self.net
            .gradient(black_box(x), &self.tb, &mut self.cache, &mut self.grads);
        self.opt.step(&mut *self.net, &self.grads);
    }
}

fn training_step(c: &mut Criterion) {
    let mut step = Step::new();
    let mut g = c.benchmark_group("train_step");
    g.throughput(Throughput::Elements(100 * STEP));
    g.bench_function("batch_100", |b| b.iter(|| step.run(false)));
    g.bench_function("dense_batch_100", |b| b.iter(|| step.run(true)));
    g.finish();
}

fn predict(c: &mut Criterion) {
    let (x, _) = digits();
    let net = Box::new(Net::new(0));
    let mut g = c.benchmark_group("predict");
    let one = batch::<1>(&x);
    g.throughput(Throughput::Elements(FWD));
    g.bench_function(BenchmarkId::new("batch", 1), |b| {
        b.iter(|| net.predict(black_box(&*one)))
    });
    let hundred = batch::<100>(&x);
    g.throughput(Throughput::Elements(100 * FWD));
    g.bench_function(BenchmarkId::new("batch", 100), |b| {
        b.iter(|| net.predict(black_box(&*hundred)))
    });
    // The same images with no zero pixel: the dense kernels run instead of zero-skipping.
    let one = dense(&one);
    g.throughput(Throughput::Elements(FWD));
    g.bench_function(BenchmarkId::new("dense_batch", 1), |b| {
        b.iter(|| net.predict(black_box(&*one)))
    });
    let hundred = dense(&hundred);
    g.throughput(Throughput::Elements(100 * FWD));
    g.bench_function(BenchmarkId::new("dense_batch", 100), |b| {
        b.iter(|| net.predict(black_box(&*hundred)))
    });
    g.finish();
}

fn layers(c: &mut Criterion) {
    let (x, _) = digits();
    let xb = batch::<100>(&x);
    let net = Box::new(Net::new(0));
    let mut g = c.benchmark_group("layer");
    let mut h = Box::new([[0.0f32; 50]; 100]);
    let mut y = Box::new([[0.0f32; 10]; 100]);
    let mut dh = Box::new([[0.0f32; 50]; 100]);
    let mut grads = Box::new(Net::zeros());
    net.affine1.forward(&xb, &mut h);
    g.throughput(Throughput::Elements(2 * 100 * 784 * 50));
    g.bench_function("affine1_forward", |b| {
        b.iter(|| net.affine1.forward(black_box(&*xb), &mut h))
    });
    let xd = dense(&xb);
    g.bench_function("affine1_forward_dense", |b| {
        b.iter(|| net.affine1.forward(black_box(&*xd), &mut h))
    });
    g.bench_function("affine1_backward_params", |b| {
        b.iter(|| {
            net.affine1
                .param_gradient(black_box(&*xb), &dh, &mut grads.affine1)
        })
    });
    g.bench_function("affine1_backward_params_dense", |b| {
        b.iter(|| {
            net.affine1
                .param_gradient(black_box(&*xd), &dh, &mut grads.affine1)
        })
    });
    g.throughput(Throughput::Elements(2 * 100 * 50 * 10));
    g.bench_function("affine2_forward", |b| {
        b.iter(|| net.affine2.forward(black_box(&*h), &mut y))
    });
    g.throughput(Throughput::Elements(4 * 100 * 50 * 10));
    g.bench_function("affine2_backward", |b| {
        b.iter(|| {
            net.affine2
                .backward(black_box(&*h), &y, &mut grads.affine2, &mut dh)
        })
    });
    g.throughput(Throughput::Elements(100 * 50));
    g.bench_function("relu_forward", |b| {
        b.iter(|| Relu::<50>.forward_in_place(black_box(&mut *h)))
    });
    g.bench_function("relu_backward", |b| {
        b.iter(|| Relu::<50>.backward(black_box(&*h), &mut dh))
    });
    let t: [Class<10>; 100] = [Class::new(3).unwrap(); 100];
    let mut probs = Box::new([[0.0f32; 10]; 100]);
    g.throughput(Throughput::Elements(100 * 10));
    g.bench_function("softmax_with_loss_forward", |b| {
        b.iter(|| SoftmaxWithLoss::<10>.forward(black_box(&*y), &t, &mut probs))
    });
    g.finish();
}

fn optimizers(c: &mut Criterion) {
    let mut net = Box::new(Net::new(0));
    let grads = Box::new(Net::new(1));
    let mut g = c.benchmark_group("optimizer_step");
    g.throughput(Throughput::Elements(<Net as Network<f32>>::PARAMS as u64));
    for name in AnyOptimizer::<f32, Net>::NAMES {
        let mut opt = AnyOptimizer::<f32, Net>::by_name(name, Some(1e-6)).unwrap();
        g.bench_function(name, |b| b.iter(|| opt.step(&mut *net, black_box(&*grads))));
    }
    g.finish();
}

fn full_run(c: &mut Criterion) {
    let (x, t) = digits();
    let mut g = c.benchmark_group("book_recipe");
    g.sample_size(10);
    g.throughput(Throughput::Elements(10_000 * 100 * STEP));
    g.bench_function("10k_iterations", |b| b.iter(|| book_recipe(&x, &t)));
    let bytes = digit_bytes();
    let (xp, tp) = bytes
        .pixels_for::<f32, Net>()
        .expect("they fit the card's network");
    g.bench_function("10k_iterations_pixels", |b| {
        b.iter(|| book_recipe(&xp, &tp))
    });
    g.finish();
}

/// Times `f` run back to back inside [`typenet::parallel::keep_awake`], as a training loop
/// runs there.
#[cfg(feature = "parallel")]
fn awake<F: FnMut() + Send>(b: &mut criterion::Bencher, mut f: F) {
    b.iter_custom(|n| {
        typenet::parallel::keep_awake(|| {
            let start = std::time::Instant::now();
            for _ in 0..n {
                f();
            }
            start.elapsed()
        })
    })
}

/// The training step, `predict`, layer 1, the optimizers and the book's whole run at batch
/// 100 on two threads: inside `keep_awake`, where every kernel from 1 M multiply-adds splits
/// in two. Compare with the one-thread groups `train_step`, `predict`, `layer`,
/// `optimizer_step` and `book_recipe`.
#[cfg(feature = "parallel")]
fn two_threads(c: &mut Criterion) {
    let mut step = Step::new();
    let mut g = c.benchmark_group("two_threads");
    g.throughput(Throughput::Elements(100 * STEP));
    g.bench_function("train_step_100", |b| awake(b, || step.run(false)));
    g.bench_function("train_step_dense_100", |b| awake(b, || step.run(true)));
    let Step {
        xb,
        xd,
        mut net,
        mut grads,
        ..
    } = step;
    g.throughput(Throughput::Elements(100 * FWD));
    for (name, input) in [("predict_100", &xb), ("predict_dense_100", &xd)] {
        g.bench_function(name, |b| {
            awake(b, || {
                black_box(net.predict(black_box(&**input)));
            })
        });
    }
    let mut h = Box::new([[0.0f32; 50]; 100]);
    let dh = Box::new([[0.01f32; 50]; 100]);
    g.throughput(Throughput::Elements(2 * 100 * 784 * 50));
    for (name, input) in [("affine1_forward", &xb), ("affine1_forward_dense", &xd)] {
        g.bench_function(name, |b| {
            awake(b, || net.affine1.forward(black_box(&**input), &mut h))
        });
    }
    for (name, input) in [
        ("affine1_backward_params", &xb),
        ("affine1_backward_params_dense", &xd),
    ] {
        g.bench_function(name, |b| {
            awake(b, || {
                net.affine1
                    .param_gradient(black_box(&**input), &dh, &mut grads.affine1)
            })
        });
    }
    let grads = Box::new(Net::new(1));
    g.throughput(Throughput::Elements(<Net as Network<f32>>::PARAMS as u64));
    for name in ["sgd", "adam"] {
        let mut opt = AnyOptimizer::<f32, Net>::by_name(name, Some(1e-6)).unwrap();
        g.bench_function(format!("optimizer_step/{name}"), |b| {
            awake(b, || opt.step(&mut *net, black_box(&*grads)))
        });
    }
    let bytes = digit_bytes();
    let (xp, tp) = bytes
        .pixels_for::<f32, Net>()
        .expect("they fit the card's network");
    g.sample_size(10);
    g.throughput(Throughput::Elements(10_000 * 100 * STEP));
    g.bench_function("10k_iterations_pixels", |b| {
        awake(b, || {
            black_box(book_recipe(&xp, &tp));
        })
    });
    g.finish();
}

/// Layer 1 forward on dense batches of 100, 400 and 1000, each call after a 300 µs pause, as
/// in a training loop where other work runs between kernels: with `--features parallel`
/// the second thread has gone to sleep by then, and this shows what waking it costs
/// against what splitting saves.
fn parallel_scaling(c: &mut Criterion) {
    let (x, _) = digits();
    let net = Box::new(Net::new(0));
    let mut g = c.benchmark_group("parallel_scaling");
    g.sample_size(20);
    for rows in [100usize, 400, 1000] {
        let xs: Vec<[f32; 784]> = x[..rows]
            .iter()
            .map(|r| r.map(|v| 0.01 + 0.99 * v))
            .collect();
        let mut y = vec![[0.0f32; 50]; rows];
        g.throughput(Throughput::Elements(2 * rows as u64 * 784 * 50));
        g.bench_function(format!("affine1_forward_dense_after_pause/{rows}"), |b| {
            b.iter_custom(|n| {
                let mut total = std::time::Duration::ZERO;
                for _ in 0..n {
                    std::thread::sleep(std::time::Duration::from_micros(300));
                    let start = std::time::Instant::now();
                    typenet::kernels::matmul_bias(
                        black_box(&xs),
                        &net.affine1.w,
                        &net.affine1.b,
                        &mut y,
                    );
                    total += start.elapsed();
                }
                total
            })
        });
    }
    g.finish();
}

/// Layer 1 forward and weight gradient at batch 100 as the share of nonzero inputs grows
/// (digits with some zero pixels set to 0.01): the kernel each batch takes, zero-skipping
/// or dense, and what it costs. The thresholds were set from the same batches with each
/// kernel forced (by setting `sparse::mostly_zero`'s and `sparse::sparse_enough`'s limits
/// to all entries). `affine1_forward_one_row` runs the same 100 rows one at a time (as
/// `predict` of a single sample does), where the dense kernel has no blocks of rows to reuse
/// weights in.
fn density(c: &mut Criterion) {
    let (x, _) = digits();
    let xb = batch::<100>(&x);
    let net = Box::new(Net::new(0));
    let mut h = Box::new([[0.0f32; 50]; 100]);
    let dh = Box::new([[0.01f32; 50]; 100]);
    let mut grads = Box::new(Net::zeros());
    let mut g = c.benchmark_group("density");
    let mut h1 = [[0.0f32; 50]; 1];
    for extra in [0usize, 20, 30, 40, 50, 60, 70, 80] {
        let mut xq = xb.clone();
        for (r, row) in xq.iter_mut().enumerate() {
            for (i, v) in row.iter_mut().enumerate() {
                if *v == 0.0 && (r * 7919 + i * 104_729) % 100 < extra {
                    *v = 0.01;
                }
            }
        }
        let nonzero = xq.iter().flatten().filter(|v| **v != 0.0).count() * 100 / (100 * 784);
        g.bench_function(format!("affine1_forward/{nonzero}%"), |b| {
            b.iter(|| net.affine1.forward(black_box(&*xq), &mut h))
        });
        g.bench_function(format!("affine1_forward_one_row/{nonzero}%"), |b| {
            b.iter(|| {
                for row in xq.iter() {
                    net.affine1
                        .forward(black_box(core::array::from_ref(row)), &mut h1);
                }
            })
        });
        g.bench_function(format!("affine1_backward_params/{nonzero}%"), |b| {
            b.iter(|| {
                net.affine1
                    .param_gradient(black_box(&*xq), &dh, &mut grads.affine1)
            })
        });
    }
    g.finish();
}

/// Drawing a batch of 100 random samples from 60,000 (the size of Fashion-MNIST's training
/// set), as `f32` rows and as byte rows, with and without touching them all first
/// (`Samples::prefetch`, as `Trainer::step` does). The data is synthetic: only its size and
/// layout matter here.
fn draw_batch(c: &mut Criterion) {
    use typenet::data::{Dataset, Samples};
    const N: usize = 60_000;
    let bytes: Vec<u8> = (0..N * 784).map(|i| (i * 7 % 251) as u8).collect();
    let labels = vec![0u8; N];
    let pixels = Dataset::from_pixels(bytes, labels, [28, 28]).expect("60,000 images");
    let floats = pixels.scaled::<f32>();
    let (xp, _) = pixels.pixels_for::<f32, Net>().expect("784 pixels");
    let (xf, _) = floats.check_for::<Net>().expect("784 values");
    let mut out = Box::new([[0.0f32; 784]; 100]);
    let mut rng = Rng::new(1);
    let mut g = c.benchmark_group("draw_batch");
    let mut run =
        |name: &str, source: &dyn Fn(usize, &mut [f32; 784]) -> bool, touch: &dyn Fn(usize)| {
            g.bench_function(name, |b| {
                b.iter(|| {
                    let picks: [usize; 100] = std::array::from_fn(|_| rng.below(N));
                    for &k in &picks {
                        touch(k);
                    }
                    for (o, &k) in out.iter_mut().zip(&picks) {
                        assert!(source(k, o), "sample {k} exists");
                    }
                    black_box(&out);
                })
            });
        };
    run("f32_rows", &|k, o| xf.read_into(k, o), &|_| {});
    run("f32_rows_prefetched", &|k, o| xf.read_into(k, o), &|k| {
        xf.prefetch(k)
    });
    run("byte_rows", &|k, o| xp.read_into(k, o), &|_| {});
    run("byte_rows_prefetched", &|k, o| xp.read_into(k, o), &|k| {
        xp.prefetch(k)
    });
    g.finish();
}

#[cfg(not(feature = "parallel"))]
fn two_threads(_: &mut Criterion) {}

criterion_group!(
    benches,
    training_step,
    predict,
    layers,
    optimizers,
    full_run,
    parallel_scaling,
    draw_batch,
    density,
    two_threads
);
criterion_main!(benches);
