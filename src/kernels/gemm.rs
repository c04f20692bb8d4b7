//! The matrix products behind [`Affine`](crate::Affine): a packed GEMM core (the forward
//! pass and `dy · wᵀ`), the one-row forward pass, and dot products.

use super::{madd, short, LANES, TILE};
use crate::Scalar;

/// Inputs per packed panel: a panel of `W` outputs × `KC` inputs is 16 KiB of `f32` at
/// `W = 16`, small enough for the stack and for L1.
pub(super) const KC: usize = 256;

/// A tile of `W` weight columns for `KC` inputs, copied contiguous and zero-padded past the
/// last output, so the inner loop streams 64-byte rows and never needs a tail case.
#[repr(C, align(64))]
pub(super) struct Panel<T, const W: usize>(pub(super) [[T; W]; KC]);

/// `y[r] = bias + x[r] · w`: zero-skipping for a batch that is mostly zeros (see
/// [`mostly_zero`](super::sparse::mostly_zero)), the dense kernels otherwise.
#[inline(always)]
pub(super) fn forward_body<
    T: Scalar,
    const I: usize,
    const O: usize,
    const FUSED: bool,
    const R: usize,
    const W: usize,
>(
    x: &[[T; I]],
    w: &[[T; O]; I],
    bias: &[T; O],
    y: &mut [[T; O]],
    density: super::Density,
) {
    let rows = x.len().min(y.len());
    let (x, y) = (&x[..rows], &mut y[..rows]);
    if density.sparse(|| super::sparse::mostly_zero::<T, I, O, FUSED, W>(x)) {
        super::sparse::forward_sparse::<T, I, O, FUSED, W>(x, w, bias, y);
    } else {
        forward_dense::<T, I, O, FUSED, R, W>(x, w, bias, y);
    }
}

/// [`forward_body`] on every input, zero or not.
#[inline(always)]
pub(super) fn forward_dense<
    T: Scalar,
    const I: usize,
    const O: usize,
    const FUSED: bool,
    const R: usize,
    const W: usize,
>(
    x: &[[T; I]],
    w: &[[T; O]; I],
    bias: &[T; O],
    y: &mut [[T; O]],
) {
    let rows = x.len().min(y.len());
    let (x, y) = (&x[..rows], &mut y[..rows]);
    if rows < R {
        // Too few rows to pay for packing: stream the weights as they are.
        for (xr, yr) in x.iter().zip(y.iter_mut()) {
            forward_row::<T, I, O, FUSED>(xr, w, bias, yr);
        }
        return;
    }
    for yr in y.iter_mut() {
        *yr = *bias;
    }
    // Panel row k holds w[k0 + k][o0..o0 + n].
    gemm_body::<T, I, O, FUSED, R, W>(x, y, Start::Y, |panel, width, k0, o0, n| {
        for (p, wi) in panel.chunks_exact_mut(width).zip(&w[k0..]) {
            let src = wi.get(o0..o0 + n).unwrap_or(&[]);
            let (live, pad) = p.split_at_mut(src.len().min(p.len()));
            short::copy(live, src);
            short::fill(pad, T::zero());
        }
    });
}

/// Width of the narrower tile that takes the last outputs when only a few remain (the
/// last 2 of 50, say), instead of a full-width tile that would be mostly padding.
pub(super) const HALF: usize = 8;

/// Rows per block of a [`HALF`]-wide tile: one vector of sums per row, so twelve rows give
/// twelve independent chains of multiply-adds and share each row of the panel twelve ways.
/// Measured against the six rows of a full tile (the last 2 of layer 1's 50 outputs, dense
/// batch of 100, AVX2): the whole forward pass 101 → 99.5 µs, a small gain, since such a
/// block mostly waits on loading its inputs.
const HALF_ROWS: usize = 12;

/// Where the `W`-wide tiles over `n` columns should stop and one [`HALF`]-wide tile take the
/// rest: only when `W` is wider than `HALF` and at most `HALF` columns remain.
#[inline(always)]
pub(super) const fn half_tile_start<const W: usize>(n: usize) -> Option<usize> {
    let full = n / W * W;
    if W > HALF && n > full && n - full <= HALF {
        Some(full)
    } else {
        None
    }
}

/// What a [`gemm_body`] adds its products to.
#[derive(Clone, Copy)]
pub(super) enum Start {
    /// The values already in `y`.
    Y,
    /// Zero, in place of what `y` holds, which is then never read: `dx = dy · wᵀ` for a
    /// wide layer saves a pass over `dx` (SimpleConvNet's 100 × 4320 input gradient, Zen 3:
    /// 2.24 → 1.45 ms). A convolution's outputs, initialised with their bias the same way,
    /// came out slower (2.7 → 3.6 ms): the scattered first stores of a tile into rows not
    /// yet in cache cost more than one sequential fill beforehand.
    Zero,
}

impl Start {
    /// Whether a block's sums start from zero rather than from `y`. Only the first chunk of
    /// inputs (`k0 = 0`) can; later chunks add to its sums.
    #[inline(always)]
    fn zeroes(self, k0: usize) -> bool {
        matches!(self, Start::Zero) && k0 == 0
    }
}

/// `y = start + a · B` for `a` of `K` columns and `B` (`K`×`N`) given through `pack`, which
/// fills a flat panel of `width`-wide rows with rows `k0..` of columns `o0..o0 + n` of `B`,
/// zero-padded. Full tiles are `W` wide; a remainder of at most [`HALF`] columns gets a
/// `HALF`-wide tile. The packing runs once per panel; the micro-kernels do the work.
#[inline(always)]
pub(super) fn gemm_body<
    T: Scalar,
    const K: usize,
    const N: usize,
    const FUSED: bool,
    const R: usize,
    const W: usize,
>(
    a: &[[T; K]],
    y: &mut [[T; N]],
    start: Start,
    pack: impl Fn(&mut [T], usize, usize, usize, usize),
) {
    match half_tile_start::<W>(N) {
        Some(full) => {
            gemm_columns::<T, K, N, FUSED, R, W>(a, y, start, 0, full, &pack);
            gemm_columns::<T, K, N, FUSED, HALF_ROWS, HALF>(a, y, start, full, N, &pack);
        }
        None => gemm_columns::<T, K, N, FUSED, R, W>(a, y, start, 0, N, &pack),
    }
}

/// Columns `start..end` of [`gemm_body`], in tiles of `W`.
#[inline(always)]
pub(super) fn gemm_columns<
    T: Scalar,
    const K: usize,
    const N: usize,
    const FUSED: bool,
    const R: usize,
    const W: usize,
>(
    a: &[[T; K]],
    y: &mut [[T; N]],
    init: Start,
    start: usize,
    end: usize,
    pack: &impl Fn(&mut [T], usize, usize, usize, usize),
) {
    let mut panel = Panel([[T::zero(); W]; KC]);
    for o0 in (start..end).step_by(W) {
        let n = W.min(end - o0);
        for k0 in (0..K).step_by(KC) {
            let kn = KC.min(K - k0);
            pack(panel.0[..kn].as_flattened_mut(), W, k0, o0, n);
            let panel = &panel.0;
            let tile = (panel, k0, o0, n);
            let (xb, x_rest) = a.as_chunks::<R>();
            let (yb, y_rest) = y.as_chunks_mut::<R>();
            let zero = init.zeroes(k0);
            for (xs, ys) in xb.iter().zip(yb.iter_mut()) {
                gemm_block::<T, K, N, FUSED, R, W>(xs, ys, zero, tile);
            }
            // The rows past the last block of R, in blocks of 4, 2 and 1: a lone row would
            // be one chain of multiply-adds per vector, bound by their latency.
            let (x4, x_rest) = x_rest.as_chunks::<4>();
            let (y4, y_rest) = y_rest.as_chunks_mut::<4>();
            for (xs, ys) in x4.iter().zip(y4.iter_mut()) {
                gemm_block::<T, K, N, FUSED, 4, W>(xs, ys, zero, tile);
            }
            let (x2, x_rest) = x_rest.as_chunks::<2>();
            let (y2, y_rest) = y_rest.as_chunks_mut::<2>();
            for (xs, ys) in x2.iter().zip(y2.iter_mut()) {
                gemm_block::<T, K, N, FUSED, 2, W>(xs, ys, zero, tile);
            }
            for (xr, yr) in x_rest.iter().zip(y_rest.iter_mut()) {
                let (xs, ys) = (core::array::from_ref(xr), core::array::from_mut(yr));
                gemm_block::<T, K, N, FUSED, 1, W>(xs, ys, zero, tile);
            }
        }
    }
}

/// `ys[r][o0..o0 + n] += Σ_k xs[r][k] · panel[k]` over the chunk of inputs from `k0`, for a
/// block of `RB` rows whose `RB×W` sums stay in registers; they start from zero in place of
/// `ys` if `zero`.
#[inline(always)]
fn gemm_block<
    T: Scalar,
    const K: usize,
    const N: usize,
    const FUSED: bool,
    const RB: usize,
    const W: usize,
>(
    xs: &[[T; K]; RB],
    ys: &mut [[T; N]; RB],
    zero: bool,
    (panel, k0, o0, n): (&[[T; W]; KC], usize, usize, usize),
) {
    let kn = KC.min(K - k0);
    let mut acc = match zero {
        true => [[T::zero(); W]; RB],
        false => load_tile::<T, N, RB, W>(ys, o0, n),
    };
    let xk = xs.each_ref().map(|xr| xr.as_chunks::<KC>().0.get(k0 / KC));
    match xk.first().copied().flatten() {
        Some(first) if xk.iter().all(Option::is_some) => {
            forward_micro::<T, FUSED, RB, W>(xk.map(|c| c.unwrap_or(first)), panel, &mut acc);
        }
        _ => {
            let xk = xs.each_ref().map(|xr| xr.get(k0..k0 + kn).unwrap_or(&[]));
            forward_micro_short::<T, FUSED, RB, W>(xk, &panel[..kn], &mut acc);
        }
    }
    store_tile::<T, N, RB, W>(&whole_vectors::<T, FUSED, RB, W>(acc, n), ys, o0, n);
}

/// The heart of the forward pass: `acc[r] += Σ_k x[r][k] · panel[k]` over a full chunk of
/// [`KC`] inputs. Every size is a constant, so there is no bounds check and the `R×W`
/// accumulators live in registers.
#[inline(always)]
pub(super) fn forward_micro<T: Scalar, const FUSED: bool, const R: usize, const W: usize>(
    xk: [&[T; KC]; R],
    panel: &[[T; W]; KC],
    acc: &mut [[T; W]; R],
) {
    for k in 0..KC {
        let wk = &panel[k];
        for r in 0..R {
            let xv = xk[r][k];
            for j in 0..W {
                acc[r][j] = madd::<T, FUSED>(xv, wk[j], acc[r][j]);
            }
        }
    }
}

/// [`forward_micro`] over a chunk shorter than [`KC`] (`panel.len()` inputs; every slice
/// of `xk` has exactly that length).
#[inline(always)]
pub(super) fn forward_micro_short<T: Scalar, const FUSED: bool, const R: usize, const W: usize>(
    xk: [&[T]; R],
    panel: &[[T; W]],
    acc: &mut [[T; W]; R],
) {
    // Every slice has `panel.len()` values. No indexing: the firmware proves inference
    // panic-free at every optimisation level, and `"s"` does not see that `k` is in range.
    let kn = xk.iter().fold(panel.len(), |n, x| n.min(x.len()));
    for (k, wk) in panel.iter().enumerate().take(kn) {
        for r in 0..R {
            let Some(&xv) = xk[r].get(k) else { return };
            for j in 0..W {
                acc[r][j] = madd::<T, FUSED>(xv, wk[j], acc[r][j]);
            }
        }
    }
}

/// Outputs `o0..o0 + n` of `R` rows, zero-padded to `W`.
#[inline(always)]
pub(super) fn load_tile<T: Scalar, const O: usize, const R: usize, const W: usize>(
    ys: &[[T; O]; R],
    o0: usize,
    n: usize,
) -> [[T; W]; R] {
    let mut acc = [[T::zero(); W]; R];
    for (a, yr) in acc.iter_mut().zip(ys.iter()) {
        short::copy(a, yr.get(o0..o0 + n).unwrap_or(&[]));
    }
    acc
}

/// `acc`, as the sums of a tile of which only the first `n` of `W` lanes are stored.
///
/// When `n < W` is known at compile time (a layer narrower than a tile: 10 outputs in a
/// 16-wide tile), the padding lanes are dead, and LLVM packs the live lanes of several rows
/// into shared vectors, with shuffles around every multiply-add: layer 2's weight gradient
/// (50 × 10, batch 100) took 5.1 µs that way and takes 2.2 µs with each row's sums kept in
/// whole vectors. [`black_box`](core::hint::black_box) keeps every lane alive; full tiles,
/// the rule, skip it, and so does the portable path (`FUSED` false), which has no vectors to
/// pack and would only pay for the round trip through memory (XOR training on the
/// Cortex-M4F: 3,964 → 4,218 instructions per step with it).
#[inline(always)]
pub(super) fn whole_vectors<T: Scalar, const FUSED: bool, const R: usize, const W: usize>(
    acc: [[T; W]; R],
    n: usize,
) -> [[T; W]; R] {
    if FUSED && n < W {
        core::hint::black_box(acc)
    } else {
        acc
    }
}

/// Writes back what [`load_tile`] read.
#[inline(always)]
pub(super) fn store_tile<T: Scalar, const O: usize, const R: usize, const W: usize>(
    acc: &[[T; W]; R],
    ys: &mut [[T; O]; R],
    o0: usize,
    n: usize,
) {
    for (a, yr) in acc.iter().zip(ys.iter_mut()) {
        if let Some(dst) = yr.get_mut(o0..o0 + n) {
            short::copy(dst, a);
        }
    }
}

/// One row, weights streamed in place: SIMD registers hold the whole output row; the
/// portable path keeps tiles of [`TILE`] outputs in registers.
#[inline(always)]
pub(super) fn forward_row<T: Scalar, const I: usize, const O: usize, const FUSED: bool>(
    x: &[T; I],
    w: &[[T; O]; I],
    bias: &[T; O],
    y: &mut [T; O],
) {
    if FUSED || O <= TILE {
        let mut acc = *bias;
        for (&xi, wi) in x.iter().zip(w.iter()) {
            for (a, &wo) in acc.iter_mut().zip(wi.iter()) {
                *a = madd::<T, FUSED>(xi, wo, *a);
            }
        }
        *y = acc;
        return;
    }
    let (y_tiles, y_tail) = y.as_chunks_mut::<TILE>();
    let (b_tiles, b_tail) = bias.as_chunks::<TILE>();
    for (t, (yt, bt)) in y_tiles.iter_mut().zip(b_tiles.iter()).enumerate() {
        let mut acc = *bt;
        for (&xi, wi) in x.iter().zip(w.iter()) {
            if let Some(wt) = wi.as_chunks::<TILE>().0.get(t) {
                for (a, &wo) in acc.iter_mut().zip(wt.iter()) {
                    *a = madd::<T, FUSED>(xi, wo, *a);
                }
            }
        }
        *yt = acc;
    }
    let start = O - y_tail.len();
    for (k, (yo, &bo)) in y_tail.iter_mut().zip(b_tail.iter()).enumerate() {
        let mut acc = bo;
        for (&xi, wi) in x.iter().zip(w.iter()) {
            if let Some(&wo) = wi.get(start + k) {
                acc = madd::<T, FUSED>(xi, wo, acc);
            }
        }
        *yo = acc;
    }
}

#[inline(always)]
pub(super) fn transposed_body<
    T: Scalar,
    const I: usize,
    const O: usize,
    const FUSED: bool,
    const R: usize,
    const W: usize,
>(
    dy: &[[T; O]],
    w: &[[T; O]; I],
    dx: &mut [[T; I]],
) {
    let rows = dy.len().min(dx.len());
    let (dy, dx) = (&dy[..rows], &mut dx[..rows]);
    if rows < R {
        for (dyr, dxr) in dy.iter().zip(dx.iter_mut()) {
            for (dxi, wi) in dxr.iter_mut().zip(w.iter()) {
                *dxi = dot::<T, FUSED>(dyr, wi);
            }
        }
        return;
    }
    // dx = dy · wᵀ: panel row k holds wᵀ[k0 + k][i0..i0 + n] = w[i0..i0 + n][k0 + k].
    gemm_body::<T, O, I, FUSED, R, W>(dy, dx, Start::Zero, |panel, width, k0, i0, n| {
        for (k, p) in panel.chunks_exact_mut(width).enumerate() {
            p.fill(T::zero());
            for (dst, wi) in p.iter_mut().zip(w.get(i0..i0 + n).unwrap_or(&[])) {
                *dst = wi.get(k0 + k).copied().unwrap_or(T::zero());
            }
        }
    });
}

/// Dot product with [`LANES`] independent partial sums, added in a fixed order.
#[inline(always)]
pub(super) fn dot<T: Scalar, const FUSED: bool>(a: &[T], b: &[T]) -> T {
    let (ac, a_tail) = a.as_chunks::<LANES>();
    let (bc, b_tail) = b.as_chunks::<LANES>();
    let mut acc = [T::zero(); LANES];
    for (x, y) in ac.iter().zip(bc.iter()) {
        for ((s, &p), &q) in acc.iter_mut().zip(x.iter()).zip(y.iter()) {
            *s = madd::<T, FUSED>(p, q, *s);
        }
    }
    let mut tail = T::zero();
    for (&x, &y) in a_tail.iter().zip(b_tail) {
        tail = madd::<T, FUSED>(x, y, tail);
    }
    acc.iter().fold(T::zero(), |s, &v| s + v) + tail
}
