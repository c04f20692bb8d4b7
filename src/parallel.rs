//! Two threads for a training loop (feature `parallel`).
//!
//! The kernels of a large batch split across two threads of rayon's pool on their own (from
//! 8 M multiply-adds: the book's network from a batch of about 200). A smaller batch, such
//! as the book's 100, does not pay for a second thread on its own: in a training loop other
//! work runs between its large kernels (batch sampling, the small layers, the update), the
//! second thread falls asleep meanwhile, and waking it costs more than half of a 50 µs
//! kernel saves.
//!
//! [`keep_awake`] is the answer for a loop: it runs the loop on a thread of the pool and
//! keeps one other thread of the pool spinning for work until the loop returns. Inside it,
//! every kernel from 1 M multiply-adds splits in two, dense or zero-skipping, and the two
//! halves start within about a microsecond. Results are bit-identical to one thread: each half
//! computes its own rows of the output exactly as one thread would (tested).
//!
//! The price is a second core kept busy for as long as the loop runs, which is what a
//! training loop wants and nothing else does: do not wrap code that waits on I/O in it.

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, Ordering};

std::thread_local! {
    /// Whether this thread runs the body of a [`keep_awake`].
    static AWAKE: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread runs inside [`keep_awake`] with a second thread spinning, so
/// that smaller kernels are worth splitting.
pub(crate) fn is_awake() -> bool {
    AWAKE.with(Cell::get)
}

/// Where work over `n` rows (or inputs) splits: half, rounded down to an even number (the
/// zero-skipping forward pass takes rows in pairs). Every split of a step uses it, so each
/// thread works on the same rows from the batch draw to the forward pass. For the book's
/// batch, halves of 50 and 50 rows beat 48 and 52 (whose register tiles fit better), as the
/// slower half sets the pace: dense layer 1 forward on two threads, 62 µs against 69–79 µs
/// (the minimum of 7 rounds of 2,000 calls, builds of both run in turn by a harness outside
/// the repository; criterion's `two_threads` figures drift more than that on a shared machine).
pub(crate) const fn half(n: usize) -> usize {
    n / 4 * 2
}

/// Where a pass over a flat parameter tensor of `shape` (`len` values) splits inside
/// [`keep_awake`], if it is large enough to: after the rows the first half of its weight
/// gradient computes, so each thread checks and updates the values it has just written.
pub(crate) fn split_tensor(len: usize, shape: &[usize]) -> Option<usize> {
    const MIN_VALUES: usize = 1 << 14;
    let at = match shape {
        [rows, rest @ ..] => half(*rows) * rest.iter().product::<usize>(),
        [] => 0,
    };
    (len >= MIN_VALUES && at > 0 && at < len && is_awake()).then_some(at)
}

/// Runs `f` on a thread of rayon's pool while one other thread of the pool spins, waiting for
/// the halves of split kernels, until `f` returns; returns what `f` returns.
///
/// With fewer than two threads in the pool (`RAYON_NUM_THREADS=1`, or one core), it just
/// calls `f`. Nested calls are harmless. If `f` panics, the helper stops and the panic
/// propagates.
///
/// ```
/// use typenet::prelude::*;
/// use typenet::train::Trainer;
///
/// network! { pub struct Net< Affine<64, 32>, Relu, Affine<32, 4>, SoftmaxWithLoss > }
///
/// let x: Vec<[f32; 64]> = (0..256).map(|i| core::array::from_fn(|j| ((i * j) % 7) as f32)).collect();
/// let t: Vec<Class<4>> = (0..256).map(|i| Class::new(i % 4).unwrap()).collect();
/// let mut trainer = Trainer::<f32, Net, _, 100>::new(Net::new(0), Sgd::new(0.01), 0);
/// let last = typenet::parallel::keep_awake(|| {
///     let mut loss = 0.0;
///     for _ in 0..20 {
///         loss = trainer.step(&x, &t).expect("finite");
///     }
///     loss
/// });
/// assert!(last.is_finite());
/// ```
pub fn keep_awake<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_num_threads() < 2 {
        return f();
    }
    let stop = &AtomicBool::new(false);
    rayon::scope(|s| {
        let owner = rayon::current_thread_index();
        s.spawn(move |_| spin(stop, owner));
        // Both guards act on drop, so a panic in `f` also stops the helper.
        let _stop = StopOnDrop(stop);
        let _awake = AwakeGuard(AWAKE.with(|a| a.replace(true)));
        f()
    })
}

/// The helper's loop: run whatever work the pool has (the second halves of split kernels),
/// else spin, until `stop`.
fn spin(stop: &AtomicBool, owner: Option<usize>) {
    // The owner itself may pick this job up while it waits for a half it queued: then there
    // is nobody to keep awake, and spinning here would block the owner forever.
    if rayon::current_thread_index() == owner {
        return;
    }
    while !stop.load(Ordering::Acquire) {
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            core::hint::spin_loop();
        }
    }
}

/// Sets the flag on drop.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Restores this thread's previous [`AWAKE`] value on drop.
struct AwakeGuard(bool);

impl Drop for AwakeGuard {
    fn drop(&mut self) {
        AWAKE.with(|a| a.set(self.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_runs_awake_and_the_flag_is_restored() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            assert!(!is_awake());
            let (outer, inner) = keep_awake(|| (is_awake(), keep_awake(is_awake)));
            assert!(outer && inner);
            assert!(!is_awake());
        });
    }

    #[test]
    fn one_thread_just_runs_the_body() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| keep_awake(|| (is_awake(), 7))), (false, 7));
    }

    #[test]
    fn a_panic_stops_the_helper_and_propagates() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let caught =
            pool.install(|| std::panic::catch_unwind(|| keep_awake(|| panic!("in the loop"))));
        assert!(caught.is_err());
        // The helper has stopped: the pool still runs work on both threads.
        assert_eq!(pool.install(|| rayon::join(|| 1, || 2)), (1, 2));
        assert!(!pool.install(is_awake));
    }
}
