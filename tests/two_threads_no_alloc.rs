//! No allocation in a training step on two threads either (feature `parallel`): inside
//! `typenet::parallel::keep_awake`, splitting a kernel goes through rayon's stack jobs and
//! the pool's existing queues. Counted on every thread, so this binary holds one test.
#![cfg(feature = "parallel")]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use typenet::prelude::*;
use typenet::train::Trainer;

struct Counting;

static ACTIVE: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; it only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ACTIVE.load(Ordering::Relaxed) {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ACTIVE.load(Ordering::Relaxed) {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

network! {
    /// The two-layer net of chapter 5.
    pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}
type Net = TwoLayerNet<f32>;

#[test]
fn training_steps_on_two_threads_do_not_allocate() {
    let mnist = common::bundled::<f32>();
    let (x, t) = mnist.train.check_for::<Net>().unwrap();
    let mut trainer = Trainer::<f32, Net, _, 100>::new(Net::new(0), Adam::default(), 0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    // Every worker has started (a starting worker allocates its queues, once): without this,
    // the second one could still be starting while the steps are counted.
    pool.broadcast(|_| ());
    let counted = pool.install(|| {
        typenet::parallel::keep_awake(|| {
            // Warm up: feature detection, the pool's queues.
            for _ in 0..5 {
                trainer.step(x, &t).unwrap();
            }
            COUNT.store(0, Ordering::SeqCst);
            ACTIVE.store(true, Ordering::SeqCst);
            for _ in 0..50 {
                trainer.step(x, &t).unwrap();
            }
            ACTIVE.store(false, Ordering::SeqCst);
            COUNT.load(Ordering::SeqCst)
        })
    });
    assert_eq!(counted, 0, "a step on two threads allocated");
    // The counter counts on any thread.
    ACTIVE.store(true, Ordering::SeqCst);
    let (a, b) = pool.install(|| rayon::join(|| vec![1u8; 10], || vec![2u8; 10]));
    ACTIVE.store(false, Ordering::SeqCst);
    assert!(COUNT.load(Ordering::SeqCst) >= 2 && a.len() + b.len() == 20);
}
