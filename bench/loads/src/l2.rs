//! A single sample's forward pass through the card's first layer reads its rows of weights
//! from L2: 784 × 50 `f32` (157 KB) do not fit the 32 KB L1. How fast can they arrive?
//!
//! Three loops over rows of weights in L2, each row 50 wide (7 vectors, the last partly
//! used): all 784 rows in order (a dense sample), and about half of them, chosen at random
//! (a Fashion-MNIST image is about half zero), once with the forward pass's multiply-adds and
//! once with only the loads (an `or` into the sums, which costs nothing next to them).

use std::hint::black_box;
use std::time::Instant;

const I: usize = 784;
const O: usize = 50;

/// `y += Σ_k x[k] · w[k]` over the rows `idx`: the zero-skipping forward pass of one sample.
#[inline(never)]
fn multiply_add_rows(x: &[f32; I], w: &[[f32; O]; I], idx: &[u16], y: &mut [f32; O]) {
    let mut sums = *y;
    for &k in idx {
        let k = usize::from(k);
        if let (Some(&xv), Some(wk)) = (x.get(k), w.get(k)) {
            for (s, &wv) in sums.iter_mut().zip(wk) {
                *s = xv.mul_add(wv, *s);
            }
        }
    }
    *y = sums;
}

/// The same rows, loaded and or-ed into the sums: the cost of reading them alone.
#[inline(never)]
fn load_rows(w: &[[f32; O]; I], idx: &[u16], y: &mut [u32; O]) {
    let mut sums = *y;
    for &k in idx {
        if let Some(wk) = w.get(usize::from(k)) {
            for (s, &wv) in sums.iter_mut().zip(wk) {
                *s |= wv.to_bits();
            }
        }
    }
    *y = sums;
}

#[repr(C, align(64))]
struct Weights([[f32; O]; I]);

/// Prints µs per sample and bytes of weights per cycle at `ghz`, three times.
pub fn run(ghz: f64) {
    let mut w = Box::new(Weights([[0.0; O]; I]));
    for (k, row) in w.0.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = ((k * 7 + j) % 13) as f32 * 1e-3;
        }
    }
    let x: [f32; I] = core::array::from_fn(|k| k as f32 * 1e-3);
    let all: Vec<u16> = (0..I as u16).collect();
    // 64 samples' lists, each input kept with probability 1/2 (a fixed LCG).
    let mut seed = 12345u64;
    let mut coin = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        seed >> 63 == 1
    };
    let half: Vec<Vec<u16>> = (0..64)
        .map(|_| (0..I as u16).filter(|_| coin()).collect())
        .collect();
    let rows: usize = half.iter().map(Vec::len).sum();
    const REPS: usize = 2000;
    let samples = (REPS * half.len()) as f64;
    let report = |what: &str, secs: f64, rows: usize| {
        let bytes = (rows * REPS * O * 4) as f64;
        println!(
            "{what:>42}: {:.2} µs per sample, {:.1} B/cycle",
            secs / samples * 1e6,
            bytes / (secs * ghz * 1e9)
        );
    };
    for _ in 0..3 {
        let mut bits = [0u32; O];
        let start = Instant::now();
        for _ in 0..REPS * half.len() {
            load_rows(black_box(&w.0), &all, &mut bits);
        }
        report(
            "all 784 rows in order, loads only",
            start.elapsed().as_secs_f64(),
            I * half.len(),
        );
        let start = Instant::now();
        for _ in 0..REPS {
            for idx in &half {
                load_rows(black_box(&w.0), idx, &mut bits);
            }
        }
        report(
            "half of the rows at random, loads only",
            start.elapsed().as_secs_f64(),
            rows,
        );
        let mut y = [0.0f32; O];
        let start = Instant::now();
        for _ in 0..REPS {
            for idx in &half {
                multiply_add_rows(black_box(&x), &w.0, idx, &mut y);
            }
        }
        report(
            "half of the rows at random, multiply-adds",
            start.elapsed().as_secs_f64(),
            rows,
        );
        black_box((bits, y));
    }
}
