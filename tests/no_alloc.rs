//! No allocation anywhere in a training step or a prediction, proven with a counting
//! global allocator (counting only this thread, so the test harness does not interfere).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use typenet::prelude::*;
use typenet::train::Trainer;

struct Counting;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; it only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ACTIVE.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ACTIVE.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    ACTIVE.with(|a| a.set(true));
    f();
    ACTIVE.with(|a| a.set(false));
    COUNT.with(Cell::get)
}

network! {
    /// The two-layer net of chapter 5.
    pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}
type Net = TwoLayerNet<f32>;

#[test]
fn the_counter_counts() {
    assert_eq!(allocations(|| drop(black_box(vec![1u8; 10]))), 1);
}

#[test]
fn training_steps_and_predictions_do_not_allocate() {
    let mnist = common::bundled::<f32>();
    let (x, t) = mnist.train.check_for::<Net>().unwrap();
    let mut trainer = Trainer::<f32, Net, _, 100>::new(Net::new(0), Adam::default(), 0);
    trainer.step(x, &t).unwrap(); // first call: CPU feature detection is cached
    assert_eq!(
        allocations(|| for _ in 0..20 {
            trainer.step(x, &t).unwrap();
        }),
        0,
        "Trainer::step allocated"
    );
    let bytes = typenet::io::load_mnist_pixels(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data"
    )))
    .unwrap();
    let (pixels, tp) = bytes.train.pixels_for::<f32, Net>().unwrap();
    assert_eq!(
        allocations(|| for _ in 0..20 {
            trainer.step(&pixels, &tp).unwrap();
        }),
        0,
        "Trainer::step on byte pixels allocated"
    );

    let mut opt = AnyOptimizer::<f32, Net>::by_name("momentum", None).unwrap();
    let mut grads = Box::new(Net::zeros());
    let mut cache = Box::new(Net::new_cache::<100>());
    let batch: &[[f32; 784]; 100] = x[..100].try_into().unwrap();
    let labels: &[Class<10>; 100] = t[..100].try_into().unwrap();
    let net = trainer.net_mut();
    assert_eq!(
        allocations(|| {
            net.gradient(batch, labels, &mut cache, &mut grads);
            opt.step(net, &grads);
        }),
        0,
        "gradient + optimizer step allocated"
    );

    let one: &[[f32; 784]; 1] = x[..1].try_into().unwrap();
    assert_eq!(
        allocations(|| {
            black_box(net.predict(black_box(one)));
            black_box(net.predict(black_box(batch)));
            black_box(net.classify(black_box(one)));
            black_box(net.loss(black_box(batch), labels));
            black_box(typenet::train::accuracy(&*net, &x[..1000], &t[..1000]));
        }),
        0,
        "prediction allocated"
    );
}

use common::user_layers::{Scale, Tanh, Unflatten};

network! {
    /// Built-ins and the user layers of `tests/common/user_layers.rs`.
    pub struct Mixed< Affine<784, 30>, Scale<T, 30>, Tanh<30>, Unflatten<5, 6, 30>, Affine<30, 10>, SoftmaxWithLoss >
}

#[test]
fn user_layers_train_and_predict_without_allocating() {
    let mnist = common::bundled::<f32>();
    let (x, t) = mnist.train.check_for::<Mixed>().unwrap();
    let mut trainer = Trainer::<f32, Mixed, _, 100>::new(Mixed::new(0), Adam::default(), 0);
    trainer.step(x, &t).unwrap();
    assert_eq!(
        allocations(|| for _ in 0..20 {
            trainer.step(x, &t).unwrap();
        }),
        0,
        "Trainer::step allocated"
    );
    let one: &[[f32; 784]; 1] = x[..1].try_into().unwrap();
    let net = trainer.net();
    assert_eq!(
        allocations(|| {
            black_box(net.predict(black_box(one)));
            black_box(net.classify(black_box(one)));
        }),
        0,
        "prediction allocated"
    );
}

network! {
    /// Convolution (stride 2, padding 1, and a second one whose input gradient is needed)
    /// and pooling, on the bundled digits.
    pub struct Conv< Input<1, 28, 28>, Conv2d<1, 4, 4, 2, 1>, Relu, Conv2d<4, 6, 3, 1, 1>,
                     MaxPool<2>, Affine<294, 10>, SoftmaxWithLoss >
}

#[test]
fn convolutional_networks_train_and_predict_without_allocating() {
    let mnist = common::bundled::<f32>();
    let (x, t) = mnist.train.check_for::<Conv>().unwrap();
    let mut trainer = Trainer::<f32, Conv, _, 100>::new(Conv::new(0), Adam::default(), 0);
    trainer.step(x, &t).unwrap();
    assert_eq!(
        allocations(|| for _ in 0..5 {
            trainer.step(x, &t).unwrap();
        }),
        0,
        "Trainer::step allocated"
    );
    let net = trainer.net();
    let one: &[[f32; 784]; 1] = x[..1].try_into().unwrap();
    let mut scores = vec![[0.0f32; 10]; 100];
    assert_eq!(
        allocations(|| {
            black_box(net.predict(black_box(one)));
            net.predict_into(black_box(&x[..100]), &mut scores).unwrap();
        }),
        0,
        "prediction allocated"
    );
}
