//! The weight gradient `dw = xᵀ · dy`: the GEMM of [`gemm`](super::gemm) with inputs as rows
//! and the batch as the summed dimension.

use super::gemm::{half_tile_start, load_tile, store_tile, whole_vectors, Panel, HALF, KC};
use super::{madd, short};
use crate::Scalar;

/// Rows `first..first + dw.len()` of `dw = xᵀ · dy`: zero-skipping when those inputs of the
/// batch have enough zeros (see [`sparse_enough`](super::sparse::sparse_enough)), the dense
/// kernel otherwise.
#[inline(always)]
pub(super) fn weight_gradient_body<
    T: Scalar,
    const I: usize,
    const O: usize,
    const FUSED: bool,
    const R: usize,
    const W: usize,
>(
    x: &[[T; I]],
    dy: &[[T; O]],
    dw: &mut [[T; O]],
    first: usize,
    density: super::Density,
) {
    // Both kernels take as many rows of `x` as of `dy`, and at least one.
    let rows = x.len().min(dy.len());
    let (x, dy) = (&x[..rows], &dy[..rows]);
    if rows == 0 {
        dw.iter_mut().for_each(|r| r.fill(T::zero()));
        return;
    }
    if density
        .sparse(|| super::sparse::sparse_enough::<T, I, O, FUSED, W>(x, first..first + dw.len()))
    {
        super::sparse::weight_gradient_sparse::<T, I, O, FUSED, W>(x, dy, dw, first);
    } else {
        weight_gradient_rows::<T, I, O, FUSED, R, W>(x, dy, dw, first);
    }
}

/// [`weight_gradient_body`] on every input, zero or not (`x` and `dy` with the same number
/// of rows, at least one).
#[inline(always)]
pub(super) fn weight_gradient_rows<
    T: Scalar,
    const I: usize,
    const O: usize,
    const FUSED: bool,
    const R: usize,
    const W: usize,
>(
    x: &[[T; I]],
    dy: &[[T; O]],
    dw: &mut [[T; O]],
    first: usize,
) {
    // A batch larger than L2 (4320 inputs of 100 rows: 1.7 MB) would be streamed from L3
    // once per tile of outputs: take the rows of dw a chunk at a time instead, so that the
    // chunk's inputs stay in L2 for every tile (the tiles of dy are packed once per chunk).
    if x.len() * I * T::BYTES > L2_BUDGET {
        let chunk = R * CHUNK_BLOCKS;
        let mut start = 0;
        for dwc in dw.chunks_mut(chunk) {
            weight_gradient_rows_in_l2::<T, I, O, FUSED, R, W>(x, dy, dwc, first + start);
            start += chunk;
        }
        return;
    }
    weight_gradient_rows_in_l2::<T, I, O, FUSED, R, W>(x, dy, dw, first);
}

/// Bytes of inputs above which [`weight_gradient_rows`] works in chunks of rows of `dw`.
const L2_BUDGET: usize = 512 << 10;

/// Blocks of rows of `dw` per chunk: 240 inputs of 100 rows (96 KiB of `f32`) on the SIMD
/// paths. Measured on `Affine<4320, 100>` at batch 100 (Xeon, AVX-512): 3.4 ms unchunked.
const CHUNK_BLOCKS: usize = 20;

/// [`weight_gradient_rows`] for inputs that fit in L2.
#[inline(always)]
fn weight_gradient_rows_in_l2<
    T: Scalar,
    const I: usize,
    const O: usize,
    const FUSED: bool,
    const R: usize,
    const W: usize,
>(
    x: &[[T; I]],
    dy: &[[T; O]],
    dw: &mut [[T; O]],
    first: usize,
) {
    match half_tile_start::<W>(O) {
        Some(full) if O - full <= 2 => {
            weight_gradient_columns::<T, I, O, FUSED, R, W>(x, dy, dw, first, 0, full);
            weight_gradient_last_columns::<T, I, O, FUSED, 2>(x, dy, dw, first, full);
        }
        // A tile of `HALF` outputs with 3 or 4 live ones is vectorised across its rows by
        // LLVM, with gathers and scatters: `Affine<4320, 100>`'s weight gradient (batch 100,
        // AVX-512) took 3.2 ms that way and takes 0.63 ms vectorised over inputs.
        Some(full) if O - full <= 4 => {
            weight_gradient_columns::<T, I, O, FUSED, R, W>(x, dy, dw, first, 0, full);
            weight_gradient_last_columns::<T, I, O, FUSED, 4>(x, dy, dw, first, full);
        }
        Some(full) => {
            weight_gradient_columns::<T, I, O, FUSED, R, W>(x, dy, dw, first, 0, full);
            weight_gradient_columns::<T, I, O, FUSED, R, HALF>(x, dy, dw, first, full, O);
        }
        None => weight_gradient_columns::<T, I, O, FUSED, R, W>(x, dy, dw, first, 0, O),
    }
}

/// Columns `start..end` of [`weight_gradient_rows`], in tiles of `W`.
#[inline(always)]
pub(super) fn weight_gradient_columns<
    T: Scalar,
    const I: usize,
    const O: usize,
    const FUSED: bool,
    const R: usize,
    const W: usize,
>(
    x: &[[T; I]],
    dy: &[[T; O]],
    dw: &mut [[T; O]],
    first: usize,
    start: usize,
    end: usize,
) {
    let rows = x.len().min(dy.len());
    // dw = xᵀ · dy: the roles of the forward pass with inputs as rows and the batch as
    // the summed dimension. Tiles of W outputs of dy are packed, zero-padded, per chunk
    // of KC batch rows.
    let mut panel = Panel([[T::zero(); W]; KC]);
    for o0 in (start..end).step_by(W) {
        let n = W.min(end - o0);
        for r0 in (0..rows).step_by(KC) {
            let rn = KC.min(rows - r0);
            for (p, dyr) in panel.0.iter_mut().zip(&dy[r0..r0 + rn]) {
                let src = dyr.get(o0..o0 + n).unwrap_or(&[]);
                let (live, pad) = p.split_at_mut(src.len().min(W));
                short::copy(live, src);
                short::fill(pad, T::zero());
            }
            let (panel, xs) = (&panel.0[..rn], &x[r0..r0 + rn]);
            let first_chunk = r0 == 0;
            let (dw_blocks, dw_rest) = dw.as_chunks_mut::<R>();
            for (blk, dwb) in dw_blocks.iter_mut().enumerate() {
                let i0 = first + blk * R;
                gradient_block::<T, I, O, FUSED, R, W>(xs, panel, dwb, i0, first_chunk, o0, n);
            }
            // The inputs past the last block of R, in blocks of 4, 2 and 1: a lone input
            // would be one chain of multiply-adds per vector, bound by their latency.
            let mut i0 = first + dw_blocks.len() * R;
            let (dw4, dw_rest) = dw_rest.as_chunks_mut::<4>();
            for dwb in dw4.iter_mut() {
                gradient_block::<T, I, O, FUSED, 4, W>(xs, panel, dwb, i0, first_chunk, o0, n);
                i0 += 4;
            }
            let (dw2, dw_rest) = dw_rest.as_chunks_mut::<2>();
            for dwb in dw2.iter_mut() {
                gradient_block::<T, I, O, FUSED, 2, W>(xs, panel, dwb, i0, first_chunk, o0, n);
                i0 += 2;
            }
            for dwi in dw_rest.iter_mut() {
                let dwb = core::array::from_mut(dwi);
                gradient_block::<T, I, O, FUSED, 1, W>(xs, panel, dwb, i0, first_chunk, o0, n);
                i0 += 1;
            }
        }
    }
}

/// Outputs `o0..o0 + n` of the rows `i0..i0 + RB` of `dw`: `Σ_r x[r][i0 + j] · panel[r]` over
/// the chunk of batch rows `xs` (added to what earlier chunks left in `dw`, unless this is
/// the first), with the `RB×W` sums in registers.
#[inline(always)]
fn gradient_block<
    T: Scalar,
    const I: usize,
    const O: usize,
    const FUSED: bool,
    const RB: usize,
    const W: usize,
>(
    xs: &[[T; I]],
    panel: &[[T; W]],
    dwb: &mut [[T; O]; RB],
    i0: usize,
    first_chunk: bool,
    o0: usize,
    n: usize,
) {
    let mut acc = if first_chunk {
        [[T::zero(); W]; RB]
    } else {
        load_tile::<T, O, RB, W>(dwb, o0, n)
    };
    for (xr, pk) in xs.iter().zip(panel.iter()) {
        let Some(Ok(xv)) = xr.get(i0..i0 + RB).map(<&[T; RB]>::try_from) else {
            break;
        };
        for (a, &xi) in acc.iter_mut().zip(xv.iter()) {
            for (ao, &d) in a.iter_mut().zip(pk.iter()) {
                *ao = madd::<T, FUSED>(xi, d, *ao);
            }
        }
    }
    store_tile::<T, O, RB, W>(&whole_vectors::<T, FUSED, RB, W>(acc, n), dwb, o0, n);
}

/// Inputs per block of [`weight_gradient_last_columns`]: 6 vectors of 8 `f32` per column.
const INPUT_BLOCK: usize = 48;

/// Columns `start..O` of `dw = xᵀ · dy` when there are at most `C` of them (the last 2 of 50
/// outputs, say), vectorised over inputs instead of outputs: a tile of outputs would be
/// mostly padding. Each entry is still the sum over rows in order, from zero, so the bits
/// are those of the tiled kernel.
#[inline(always)]
fn weight_gradient_last_columns<
    T: Scalar,
    const I: usize,
    const O: usize,
    const FUSED: bool,
    const C: usize,
>(
    x: &[[T; I]],
    dy: &[[T; O]],
    dw: &mut [[T; O]],
    first: usize,
    start: usize,
) {
    for (blk, dwb) in dw.chunks_mut(INPUT_BLOCK).enumerate() {
        let i0 = first + blk * INPUT_BLOCK;
        // `C` columns at once: 6·C independent chains of multiply-adds.
        let mut acc = [[T::zero(); INPUT_BLOCK]; C];
        for (xr, dyr) in x.iter().zip(dy) {
            let xs = xr.get(i0..i0 + dwb.len()).unwrap_or(&[]);
            let d: [T; C] =
                core::array::from_fn(|k| dyr.get(start + k).copied().unwrap_or(T::zero()));
            if let Ok(xs) = <&[T; INPUT_BLOCK]>::try_from(xs) {
                for (a, &dv) in acc.iter_mut().zip(&d) {
                    for (ai, &xv) in a.iter_mut().zip(xs) {
                        *ai = madd::<T, FUSED>(xv, dv, *ai);
                    }
                }
            } else {
                for (a, &dv) in acc.iter_mut().zip(&d) {
                    for (ai, &xv) in a.iter_mut().zip(xs) {
                        *ai = madd::<T, FUSED>(xv, dv, *ai);
                    }
                }
            }
        }
        for (k, row) in dwb.iter_mut().enumerate() {
            for (a, o) in acc.iter().zip(start..O) {
                if let (Some(cell), Some(&v)) = (row.get_mut(o), a.get(k)) {
                    *cell = v;
                }
            }
        }
    }
}
