//! Speed of the book's `SimpleConvNet` (f32, one thread): a training step at batch 100
//! (forward, backward, Adam), `predict` of one sample and of 100, and each layer's passes
//! at batch 100. Throughput lines count floating-point operations (2 per multiply-add).
//!
//! `cargo bench --bench convnet` (all), `cargo bench --bench convnet -- layer` (a group).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::path::Path;
use typenet::layer::{Layer, Mode};
use typenet::prelude::*;

network! {
    /// The book's SimpleConvNet (chapter 7).
    pub struct SimpleConvNet< Input<1, 28, 28>, Conv2d<1, 30, 5>, Relu, MaxPool<2>,
                              Affine<4320, 100>, Relu, Affine<100, 10>, SoftmaxWithLoss >
}
type Net = SimpleConvNet<f32>;

/// Multiply-adds of one sample's forward pass: the convolution, then the two affine layers.
const CONV_MACS: u64 = 30 * 25 * 24 * 24;
const FORWARD_MACS: u64 = CONV_MACS + 4320 * 100 + 100 * 10;
/// A training step per sample: forward, every weight gradient, and the input gradients of
/// the affine layers (the convolution's is not needed).
const STEP_MACS: u64 = FORWARD_MACS * 2 + 4320 * 100 + 100 * 10;

/// The first 100 bundled training digits and their labels.
fn batch() -> (Box<[[f32; 784]; 100]>, Box<[Class<10>; 100]>) {
    let data =
        typenet::io::load_mnist::<f32>(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data")))
            .expect("the bundled digits load");
    let (x, t) = data
        .train
        .check_for::<Net>()
        .expect("784 pixels, 10 classes");
    let xb: Box<[[f32; 784]; 100]> = x[..100].to_vec().into_boxed_slice().try_into().unwrap();
    let tb: Box<[Class<10>; 100]> = t[..100].to_vec().into_boxed_slice().try_into().unwrap();
    (xb, tb)
}

fn training_step(c: &mut Criterion) {
    let (x, t) = batch();
    let mut net = Box::new(Net::new(0));
    let mut grads = Box::new(Net::zeros());
    let mut cache = Box::new(Net::new_cache::<100>());
    let mut adam = Box::new(Adam::<f32, Net>::new(0.001, 0.9, 0.999));
    let mut g = c.benchmark_group("convnet_train_step");
    g.throughput(Throughput::Elements(2 * 100 * STEP_MACS));
    g.sample_size(30);
    g.bench_function("batch_100", |b| {
        b.iter(|| {
            net.gradient(black_box(&*x), &t, &mut cache, &mut grads);
            adam.step(&mut net, &grads);
        })
    });
    g.finish();
}

fn predict(c: &mut Criterion) {
    let (x, _) = batch();
    let net = Box::new(Net::new(0));
    let mut g = c.benchmark_group("convnet_predict");
    g.throughput(Throughput::Elements(2 * FORWARD_MACS));
    g.bench_function(BenchmarkId::new("batch", 1), |b| {
        b.iter(|| net.predict(black_box(&[x[0]])))
    });
    g.throughput(Throughput::Elements(2 * 100 * FORWARD_MACS));
    g.sample_size(30);
    let mut scores = vec![[0.0f32; 10]; 100];
    g.bench_function(BenchmarkId::new("batch", 100), |b| {
        b.iter(|| net.predict_into(black_box(&x[..]), &mut scores).unwrap())
    });
    g.finish();
}

fn layers(c: &mut Criterion) {
    let (x, t) = batch();
    let net = Box::new(Net::new(0));
    let mut cache = Box::new(Net::new_cache::<100>());
    let mut grads = Box::new(Net::zeros());
    net.gradient(&x, &t, &mut cache, &mut grads);
    let images = typenet::layer::reshape::<f32, [f32; 784], [[[f32; 28]; 28]; 1], 100>(&x);
    let conv_out = typenet::layer::reshape::<f32, _, [[[f32; 24]; 24]; 30], 100>(&cache.conv1);
    let mut conv_y = cache.conv1.clone();
    let conv_y = typenet::layer::reshape_mut::<f32, _, [[[f32; 24]; 24]; 30], 100>(&mut conv_y);
    let mut conv_dx = cache.conv1_grad.clone();
    let conv_dx = typenet::layer::reshape_mut::<f32, _, [[[f32; 24]; 24]; 30], 100>(&mut conv_dx);
    let pool_y = typenet::layer::reshape::<f32, _, [[[f32; 12]; 12]; 30], 100>(&cache.pool1);
    let pool_dy = typenet::layer::reshape::<f32, _, [[[f32; 12]; 12]; 30], 100>(&cache.pool1_grad);
    let mut pool_out = cache.pool1.clone();
    let pool_out = typenet::layer::reshape_mut::<f32, _, [[[f32; 12]; 12]; 30], 100>(&mut pool_out);

    let mut g = c.benchmark_group("convnet_layer");
    g.sample_size(30);
    g.throughput(Throughput::Elements(2 * 100 * CONV_MACS));
    g.bench_function("conv1_forward", |b| {
        b.iter(|| net.conv1.forward(black_box(images), conv_y, Mode::Train))
    });
    g.bench_function("conv1_backward_params", |b| {
        b.iter(|| {
            net.conv1.backward(
                black_box(images),
                conv_out,
                conv_out,
                &mut grads.conv1,
                None,
            )
        })
    });
    g.throughput(Throughput::Elements(100 * 30 * 24 * 24));
    g.bench_function("pool1_forward", |b| {
        b.iter(|| {
            net.pool1
                .forward(black_box(conv_out), pool_out, Mode::Train)
        })
    });
    g.bench_function("pool1_backward", |b| {
        b.iter(|| {
            net.pool1.backward(
                black_box(conv_out),
                pool_y,
                pool_dy,
                &mut net.pool1.clone(),
                Some(conv_dx),
            )
        })
    });
    g.bench_function("relu1_forward", |b| {
        b.iter(|| Relu::<17280>.forward_in_place(black_box(&mut *cache.conv1)))
    });
    g.throughput(Throughput::Elements(2 * 100 * 4320 * 100));
    g.bench_function("affine1_forward", |b| {
        b.iter(|| {
            net.affine1
                .forward(black_box(&*cache.pool1), &mut cache.affine1)
        })
    });
    g.bench_function("affine1_backward_params", |b| {
        b.iter(|| {
            net.affine1.param_gradient(
                black_box(&*cache.pool1),
                &cache.affine1_grad,
                &mut grads.affine1,
            )
        })
    });
    let mut dense = cache.pool1.clone();
    dense.as_flattened_mut().iter_mut().for_each(|v| *v += 0.01);
    g.bench_function("affine1_backward_params_dense", |b| {
        b.iter(|| {
            net.affine1
                .param_gradient(black_box(&*dense), &cache.affine1_grad, &mut grads.affine1)
        })
    });
    g.bench_function("affine1_backward_input", |b| {
        b.iter(|| {
            typenet::kernels::matmul_transposed(
                black_box(&*cache.affine1_grad),
                &net.affine1.w,
                &mut *cache.pool1_grad,
            )
        })
    });
    g.finish();
    let nonzero = cache
        .pool1
        .as_flattened()
        .iter()
        .filter(|v| **v != 0.0)
        .count();
    println!(
        "pooled activations: {:.0} % nonzero",
        100.0 * nonzero as f64 / (100.0 * 4320.0)
    );
}

fn optimizer(c: &mut Criterion) {
    let mut net = Box::new(Net::new(0));
    let grads = Box::new(Net::new(1));
    let mut adam = Box::new(Adam::<f32, Net>::new(0.001, 0.9, 0.999));
    let mut g = c.benchmark_group("convnet_optimizer");
    g.bench_function("adam", |b| {
        b.iter(|| adam.step(&mut net, black_box(&grads)))
    });
    g.finish();
}

criterion_group!(benches, training_step, predict, layers, optimizer);
criterion_main!(benches);
