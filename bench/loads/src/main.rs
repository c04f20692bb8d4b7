//! The inner loop of typenet's zero-skipping forward pass, alone, on weights that stay in L1:
//! two rows of a batch, each adding the 50-wide row of weights of each of its inputs, every
//! multiply-add loading its vector of weights (the loop of `sparse::accumulate_pair`). And the
//! same with one row of weights shared by both batch rows, which needs 14 accumulators plus the
//! row and two broadcasts: more than AVX2's 16 vector registers.
//!
//! The first loop runs twice: on rows of 50 weights as they lie, 200 bytes apart, so most
//! vector loads straddle two halves of a 32-byte line, and on the same rows 56 values apart
//! (224 bytes), where every load is aligned (as the weight gradient's copy of `dy` is).
//!
//! Then a single sample's pass over weights that live in L2, as in a prediction ([`l2`]).
//!
//! `cargo run --release [-- GHZ]` from this directory (`.cargo/config.toml` enables AVX2 and
//! FMA). Prints cycles per 8-wide multiply-add at GHZ (default 3.1, what this machine's FMA
//! peak of 98–100 GFLOP/s implies: 32 FLOP per cycle), and bytes per cycle from L2.

mod l2;

use std::hint::black_box;
use std::time::Instant;

/// Outputs of the card's hidden layer.
const O: usize = 50;
/// Inputs whose rows of weights stay in L1 (25 KB).
const N: usize = 128;
const REPS: usize = 200_000;

/// Two batch rows, each over its own list of inputs (here the same list, as for dense rows),
/// adding the first `L` values of rows of weights `S` values apart.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn own_rows<const S: usize, const L: usize>(
    a: &mut [f32; L],
    b: &mut [f32; L],
    xa: &[f32],
    xb: &[f32],
    w: &[[f32; S]],
    ia: &[u16],
    ib: &[u16],
) {
    let (mut sa, mut sb) = (*a, *b);
    for (&ka, &kb) in ia.iter().zip(ib) {
        let (ka, kb) = (usize::from(ka), usize::from(kb));
        if let (Some(&va), Some(wa), Some(&vb), Some(wb)) =
            (xa.get(ka), w.get(ka), xb.get(kb), w.get(kb))
        {
            for j in 0..L {
                sa[j] = va.mul_add(wa[j], sa[j]);
                sb[j] = vb.mul_add(wb[j], sb[j]);
            }
        }
    }
    *a = sa;
    *b = sb;
}

/// Two batch rows over one list of inputs, each row of weights loaded once for both.
#[inline(never)]
fn shared_row(
    a: &mut [f32; O],
    b: &mut [f32; O],
    xa: &[f32],
    xb: &[f32],
    w: &[[f32; O]],
    idx: &[u16],
) {
    let (mut sa, mut sb) = (*a, *b);
    for &k in idx {
        let k = usize::from(k);
        if let (Some(&va), Some(&vb), Some(wk)) = (xa.get(k), xb.get(k), w.get(k)) {
            for j in 0..O {
                sa[j] = va.mul_add(wk[j], sa[j]);
                sb[j] = vb.mul_add(wk[j], sb[j]);
            }
        }
    }
    *a = sa;
    *b = sb;
}

#[repr(C, align(64))]
struct Weights([[f32; O]; N]);

/// Values per padded row of weights: `O` rounded up to a multiple of 8, so that every row
/// starts on a 32-byte boundary.
const PADDED: usize = 56;

#[repr(C, align(64))]
struct PaddedWeights([[f32; PADDED]; N]);

fn main() {
    let ghz: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3.1);
    let mut w = Box::new(Weights([[0.0; O]; N]));
    for (k, row) in w.0.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (k * 7 + j) as f32 * 1e-4;
        }
    }
    let mut padded = Box::new(PaddedWeights([[0.0; PADDED]; N]));
    for (p, row) in padded.0.iter_mut().zip(&w.0) {
        p[..O].copy_from_slice(row);
    }
    let xa: Vec<f32> = (0..N).map(|k| k as f32 * 1e-3).collect();
    let xb: Vec<f32> = (0..N).map(|k| k as f32 * 2e-3).collect();
    let idx: Vec<u16> = (0..N as u16).collect();
    let idx2 = idx.clone();
    // 7 vectors of 8 per row of 50 (the last one partly used).
    let fmas = (2 * O.div_ceil(8) * N * REPS) as f64;
    for name in [
        "own rows",
        "own rows, aligned",
        "shared row",
        "own rows",
        "own rows, aligned",
        "shared row",
    ] {
        let (mut a, mut b) = ([0.0f32; O], [0.0f32; O]);
        let start = Instant::now();
        for _ in 0..REPS {
            if name == "own rows" {
                own_rows::<O, O>(&mut a, &mut b, black_box(&xa), &xb, &w.0, &idx, &idx2);
            } else if name == "own rows, aligned" {
                let (mut pa, mut pb) = ([0.0f32; PADDED], [0.0f32; PADDED]);
                // Whole vectors: the padding lanes hold zero weights.
                own_rows::<PADDED, PADDED>(
                    &mut pa,
                    &mut pb,
                    black_box(&xa),
                    &xb,
                    &padded.0,
                    &idx,
                    &idx2,
                );
                a[0] += pa[0];
                b[O - 1] += pb[O - 1];
            } else {
                shared_row(&mut a, &mut b, black_box(&xa), &xb, &w.0, &idx);
            }
        }
        let cycles = start.elapsed().as_secs_f64() * ghz * 1e9 / fmas;
        println!(
            "{name:>17}: {cycles:.2} cycles per 8-wide multiply-add at {ghz} GHz ({})",
            a[0] + b[O - 1]
        );
    }
    l2::run(ghz);
}
