//! Zero-skipping kernels: inputs with many exact zeros (image pixels, ReLU outputs) pay only
//! for their nonzero entries, in the forward pass and in the weight gradient.
//!
//! Skipping an input that is exactly zero leaves every sum bit-identical: `0 · w` is a
//! signed zero, and adding a zero changes nothing, fused or not, as long as `w` is finite
//! (trained parameters are: a training step stops before a non-finite update, and the
//! loaders reject non-finite values). The remaining terms are added in the dense kernels'
//! order, so both kinds of kernel give the same bits (up to the sign of a zero result).
//!
//! The nonzero entries are found without a branch per entry: a group of [`GROUP`] inputs
//! becomes a bit mask, and a table turns the mask into the offsets of its set bits. A branch
//! per entry would be mispredicted on every edge of a stroke in an image.

use super::{madd, TILE};
use crate::Scalar;
use core::ops::Range;

/// Inputs per index list: the lists live on the stack.
pub(super) const SPAN: usize = 256;

/// Inputs per bit mask.
const GROUP: usize = 8;

/// `POSITIONS[m]` lists the set bits of the byte `m`, lowest first, padded with zeros.
static POSITIONS: [[u8; GROUP]; 256] = positions();

const fn positions() -> [[u8; GROUP]; 256] {
    let mut table = [[0u8; GROUP]; 256];
    let mut mask = 0;
    while mask < 256 {
        let (mut n, mut bit) = (0, 0);
        while bit < GROUP {
            if mask >> bit & 1 == 1 {
                table[mask][n] = bit as u8;
                n += 1;
            }
            bit += 1;
        }
        mask += 1;
    }
    table
}

/// Offsets of the entries of `x` (its first [`SPAN`]) that are not exactly zero, in
/// increasing order, written to the front of `idx`; returns how many there are. NaN counts
/// as nonzero, so it still reaches the output.
#[inline(always)]
pub(super) fn nonzero_offsets<T: Scalar>(x: &[T], idx: &mut [u16; SPAN + GROUP]) -> usize {
    let x = x.get(..SPAN).unwrap_or(x);
    let (groups, tail) = x.as_chunks::<GROUP>();
    let mut n = 0;
    for (g, xs) in groups.iter().enumerate() {
        let mut mask = 0usize;
        for (j, &v) in xs.iter().enumerate() {
            mask |= usize::from(v != T::zero()) << j;
        }
        // n ≤ g·GROUP ≤ SPAN - GROUP here, so the window always fits.
        if let (Some(pos), Some(dst)) = (POSITIONS.get(mask), idx.get_mut(n..n + GROUP)) {
            let base = (g * GROUP) as u16;
            for (d, &p) in dst.iter_mut().zip(pos) {
                *d = base + u16::from(p);
            }
        }
        n += mask.count_ones() as usize;
    }
    let base = groups.len() * GROUP;
    for (j, &v) in tail.iter().enumerate() {
        if let Some(d) = idx.get_mut(n) {
            *d = (base + j) as u16;
        }
        n += usize::from(v != T::zero());
    }
    n
}

/// Whether skipping zeros pays for a batch `x` feeding `O` outputs, on a path whose tiles are
/// `W` values wide: when at most `O / (O + 46)` of its entries are nonzero where
/// [`forward_sparse`] reads aligned copies of the weights (52 % for 50 outputs), `O / (O + 60)`
/// where it reads them in place (45 % for 50 outputs, 14 % for 10), or, for fewer than
/// [`FEW_ROWS`] rows, at most two thirds.
///
/// A nonzero input costs the zero-skipping kernel about what an input costs the
/// register-blocked dense kernel, plus a fixed part (finding the input, broadcasting it)
/// that weighs most when there are few outputs. Measured for 784 → 50 at batch 100 on AVX2,
/// forcing each kernel (this limit raised to all entries, or lowered to none) on the batches
/// of `cargo bench --bench typenet -- density` (a timing harness, min of 30 runs each): dense 97–98 µs whatever the density; zero-skipping on aligned weights 48 µs
/// at 18 % nonzero, 72 µs at 34 %, 84 µs at 43 %, 95 µs at 51 %, 106 µs at 59 %, so the two
/// meet near 52 %; on the weights in place 50, 80, 94, 108 and 122 µs, meeting near 45 %
/// (as an earlier run with `cargo bench` found). Handwritten digits are 19 % nonzero;
/// Fashion-MNIST, 50 % (±1.5 % from batch to batch), where the zero-skipping kernel on
/// aligned weights takes 85–87 µs and the dense one 100 µs (on its batches, either forced).
///
/// A few rows have no blocks to reuse weights in: the dense kernel then streams every row
/// of weights once per row of `x`, and the zero-skipping one only the rows it needs, for
/// about the same cost per row. Measured one row at a time for 784 → 50 on AVX2, forcing
/// each kernel: on Fashion-MNIST test images (a timing of 3,000 images, not kept),
/// dense 1.83 µs whatever the image, zero-skipping 0.98 µs at 30–40 % nonzero, 1.44 µs at
/// 50–60 %, 1.62 µs at 60–70 %, 1.80 µs at 70–80 %; on digits with zero pixels set to 0.01
/// at random (`cargo bench --bench typenet -- density/affine1_forward_one_row`, 100 rows),
/// the two meet between 59 % and 67 %. Fashion-MNIST images are 27–72 % nonzero (5th to
/// 95th percentile), so about half of them took the dense kernel when single samples had the
/// threshold of larger batches.
#[inline(always)]
pub(super) fn mostly_zero<
    T: Scalar,
    const I: usize,
    const O: usize,
    const FUSED: bool,
    const W: usize,
>(
    x: &[[T; I]],
) -> bool {
    let entries = (x.len() * I) as u64;
    let limit = if x.len() < FEW_ROWS {
        entries * 2 / 3
    } else if aligned_stride::<T, O, FUSED, W>().is_some() {
        entries * O as u64 / (O as u64 + 46)
    } else {
        entries * O as u64 / (O as u64 + 60)
    };
    nonzero_at_most(x, 0..I, limit)
}

/// Rows below which a batch counts as a few: the zero-skipping forward pass then walks the
/// longest index lists ([`SPAN`] inputs), and [`mostly_zero`] accepts denser batches.
const FEW_ROWS: usize = 4;

/// Whether the rows `inputs` of the weight gradient of a batch `x` (feeding `O` outputs)
/// should skip its zeros, on a path whose tiles are `W` values wide: when at most 7/12 of
/// those inputs' entries are nonzero where the rows of `dy` are copied to aligned rows (see
/// [`aligned_stride`]: `f32` on the SIMD paths), at most half elsewhere; on 32-wide tiles
/// (AVX-512, `f32`) half of that.
///
/// A nonzero input costs the zero-skipping kernel about what any input costs the dense
/// kernel: the dense kernel is bound by its multiply-adds, the zero-skipping one by loading
/// a row of `dy` per nonzero input. Measured for 784 → 50 at batch 100 on AVX2, forcing each
/// kernel (this limit raised to all entries, or lowered to none) on the batches of
/// `cargo bench --bench typenet -- density` (a timing harness, interleaved, min of 30
/// runs each): dense 90–93 µs whatever the density; zero-skipping with aligned
/// rows 35 µs at 18 % nonzero, 58 µs at 34 %, 69 µs at 43 %, 79 µs at 51 %, 89 µs at 59 %,
/// 100 µs at 67 %, so the two meet near 59 %; with the rows of `dy` where they lie (200
/// bytes apart), 39, 66, 79, 91, 102 and 115 µs, meeting near 50 %. Wider vectors halve the
/// dense kernel's time but not the zero-skipping one's, hence half the share for 32-wide
/// tiles (an estimate: no AVX-512 machine was at hand).
#[inline(always)]
pub(super) fn sparse_enough<
    T: Scalar,
    const I: usize,
    const O: usize,
    const FUSED: bool,
    const W: usize,
>(
    x: &[[T; I]],
    inputs: Range<usize>,
) -> bool {
    // Twelfths of the entries, at 16-wide tiles.
    let twelfths: u64 = if aligned_stride::<T, O, FUSED, W>().is_some() {
        7
    } else {
        6
    };
    let entries = (x.len() * inputs.len()) as u64;
    let limit = entries * twelfths * 16 / (12 * W.max(16) as u64);
    nonzero_at_most(x, inputs, limit)
}

/// Batches of at least this many rows are judged from every [`SAMPLE_STEP`]th row.
const SAMPLE_FROM: usize = 32;

/// The stride of the rows counted in a batch of [`SAMPLE_FROM`] rows or more.
const SAMPLE_STEP: usize = 4;

/// Whether the `columns` of `x` have at most `limit` entries that are not zero (stops
/// counting past it), judged from every [`SAMPLE_STEP`]th row of a batch of at least
/// [`SAMPLE_FROM`] rows (the limit scaled to the rows counted).
///
/// The answer only picks between kernels that give the same bits, so a sample is enough:
/// near the threshold both kernels cost about the same, and far from it a quarter of a
/// shuffled batch tells the same. Counting is a pass over the whole batch, which the forward
/// pass and the weight gradient each make: for 100 rows of 784 `f32` (313 KB, from L2) it
/// took 4–5 µs, a tenth of the weight gradient on handwritten digits. A training step, min
/// of 300 batches interleaved with counting every row: digits 108–109 → 103–104 µs,
/// Fashion-MNIST 194–195 → 192 µs (a timing harness).
#[inline(always)]
fn nonzero_at_most<T: Scalar, const I: usize>(
    x: &[[T; I]],
    columns: Range<usize>,
    limit: u64,
) -> bool {
    let step = if x.len() >= SAMPLE_FROM {
        SAMPLE_STEP
    } else {
        1
    };
    let counted = x.len().div_ceil(step) as u64;
    let limit = limit.saturating_mul(counted) / (x.len() as u64).max(1);
    let mut nonzero = 0u64;
    for row in x.iter().step_by(step) {
        let row = row.get(columns.clone()).unwrap_or(&[]);
        // 32-bit counts, so the compare-and-count runs eight lanes wide.
        nonzero += u64::from(row.iter().fold(0u32, |n, &v| n + u32::from(v != T::zero())));
        if nonzero > limit {
            return false;
        }
    }
    true
}

/// Rows of `O` values by index (rows of weights, or of `dy`): where they lie, or copied to
/// aligned rows ([`Strided`]). A trait with always-inlined methods rather than a closure, so
/// that the portable build inlines the access in every loop too.
trait Rows<T, const O: usize> {
    /// Row `k`, if there is one.
    fn row(&self, k: usize) -> Option<&[T; O]>;

    /// How many rows there are.
    fn count(&self) -> usize;
}

impl<T, const O: usize> Rows<T, O> for [[T; O]] {
    #[inline(always)]
    fn row(&self, k: usize) -> Option<&[T; O]> {
        self.get(k)
    }

    #[inline(always)]
    fn count(&self) -> usize {
        self.len()
    }
}

/// `count` rows of `O` values `stride` values apart in `values`.
struct Strided<'a, T> {
    values: &'a [T],
    stride: usize,
    count: usize,
}

impl<T, const O: usize> Rows<T, O> for Strided<'_, T> {
    #[inline(always)]
    fn row(&self, k: usize) -> Option<&[T; O]> {
        if k >= self.count {
            return None;
        }
        let start = k * self.stride;
        <&[T; O]>::try_from(self.values.get(start..start + O)?).ok()
    }

    #[inline(always)]
    fn count(&self) -> usize {
        self.count
    }
}

/// The rows of `rows` from row `first` on.
struct Offset<'a, R: ?Sized> {
    rows: &'a R,
    first: usize,
}

impl<T, const O: usize, R: Rows<T, O> + ?Sized> Rows<T, O> for Offset<'_, R> {
    #[inline(always)]
    fn row(&self, k: usize) -> Option<&[T; O]> {
        self.rows.row(self.first + k)
    }

    #[inline(always)]
    fn count(&self) -> usize {
        self.rows.count().saturating_sub(self.first)
    }
}

/// `acc += Σ_k xs[k] · ws[k][o0..o0 + W]` over the offsets `k` in `idx`, `ws[k]` being the
/// row of weights of input `k` of the span.
#[inline(always)]
fn accumulate<T: Scalar, const O: usize, const W: usize, const FUSED: bool>(
    acc: &mut [T; W],
    o0: usize,
    xs: &[T],
    ws: &(impl Rows<T, O> + ?Sized),
    idx: &[u16],
) {
    // A local copy, so the sums stay in registers rather than in `acc`'s memory.
    let mut sums = *acc;
    for &k in idx {
        let k = usize::from(k);
        let Some(&xv) = xs.get(k) else { continue };
        if let Some(wt) = ws.row(k).and_then(|w| w.get(o0..o0 + W)) {
            for (a, &wo) in sums.iter_mut().zip(wt) {
                *a = madd::<T, FUSED>(xv, wo, *a);
            }
        }
    }
    *acc = sums;
}

/// [`accumulate`] (fused, whole rows) for two rows at once, `a` over the offsets `ia` and `b`
/// over `ib`: each row's sums are added in the same order as alone.
#[inline(always)]
fn accumulate_pair<T: Scalar, const O: usize>(
    a: &mut [T; O],
    b: &mut [T; O],
    xa: &[T],
    xb: &[T],
    ws: &(impl Rows<T, O> + ?Sized),
    ia: &[u16],
    ib: &[u16],
) {
    let (mut sa, mut sb) = (*a, *b);
    let both = ia.len().min(ib.len());
    for (&ka, &kb) in ia.iter().zip(ib) {
        let (ka, kb) = (usize::from(ka), usize::from(kb));
        if let (Some(&va), Some(wa), Some(&vb), Some(wb)) =
            (xa.get(ka), ws.row(ka), xb.get(kb), ws.row(kb))
        {
            for j in 0..O {
                sa[j] = va.mul_add(wa[j], sa[j]);
                sb[j] = vb.mul_add(wb[j], sb[j]);
            }
        }
    }
    *a = sa;
    *b = sb;
    let (ra, rb) = (ia.get(both..).unwrap_or(&[]), ib.get(both..).unwrap_or(&[]));
    accumulate::<T, O, O, true>(a, 0, xa, ws, ra);
    accumulate::<T, O, O, true>(b, 0, xb, ws, rb);
}

/// Inputs per span of the weights: every row of the batch visits one span (about 24 KiB of
/// weights, so it stays in L1 while the rows stream past) before the next. A multiple of
/// [`GROUP`], at least one group, at most [`SPAN`].
#[inline(always)]
fn span<T: Scalar, const O: usize>() -> usize {
    const BUDGET: usize = 24 * 1024;
    (BUDGET / (O * T::BYTES).max(1) / GROUP * GROUP).clamp(GROUP, SPAN)
}

/// `y[r] = bias + x[r] · w` for every row, adding only the inputs that are not zero, on a
/// path whose tiles are `W` values wide.
///
/// A batch (at least [`FEW_ROWS`] rows) of a layer whose rows of weights [`aligned_stride`]
/// would start off a vector boundary copies each span of weights to aligned rows first: every
/// row of the batch then loads those rows, a vector per multiply-add. Measured for 784 → 50
/// at batch 100 on AVX2 (an interleaved timing, min of 40 batches each, this kernel
/// forced): handwritten digits 51.5 → 47.4–48.1 µs, Fashion-MNIST 100 → 85–87 µs, with the
/// same bits. A few rows would pay for the copy without reusing it, and read the weights
/// where they lie.
#[inline(always)]
pub(super) fn forward_sparse<
    T: Scalar,
    const I: usize,
    const O: usize,
    const FUSED: bool,
    const W: usize,
>(
    x: &[[T; I]],
    w: &[[T; O]; I],
    bias: &[T; O],
    y: &mut [[T; O]],
) {
    for yr in y.iter_mut() {
        *yr = *bias;
    }
    let aligned = match x.len() < FEW_ROWS {
        true => None,
        false => aligned_stride::<T, O, FUSED, W>(),
    };
    let Some(stride) = aligned else {
        // A few rows gain nothing from keeping a span of weights in L1: use the longest lists.
        let span = if x.len() < FEW_ROWS {
            SPAN
        } else {
            span::<T, O>()
        };
        // Index lists, made once: two rows at a time on the SIMD paths.
        let mut lists = [[0u16; SPAN + GROUP]; 2];
        for (s, ws) in w.chunks(span).enumerate() {
            forward_span::<T, I, O, FUSED>(x, y, s * span, ws, &mut lists);
        }
        return;
    };
    let mut lists = [[0u16; SPAN + GROUP]; 2];
    let span = (span::<T, O>().min(ROW_BLOCK * ALIGNED_WIDTH / stride) / GROUP * GROUP).max(GROUP);
    let mut rows = AlignedRows::new();
    for (s, ws) in w.chunks(span).enumerate() {
        let aligned = rows.copy(ws, stride);
        forward_span::<T, I, O, FUSED>(x, y, s * span, &aligned, &mut lists);
    }
}

/// The inputs `k0..k0 + ws.count()` of [`forward_sparse`] for every row, `ws[k]` being the row of
/// weights of input `k0 + k`.
#[inline(always)]
fn forward_span<T: Scalar, const I: usize, const O: usize, const FUSED: bool>(
    x: &[[T; I]],
    y: &mut [[T; O]],
    k0: usize,
    ws: &(impl Rows<T, O> + ?Sized),
    [idx, idx2]: &mut [[u16; SPAN + GROUP]; 2],
) {
    if FUSED {
        // Two rows at a time: two independent chains of fused multiply-adds.
        let (pairs, _) = x.as_chunks::<2>();
        let (ypairs, _) = y.as_chunks_mut::<2>();
        for ([xa, xb], [ya, yb]) in pairs.iter().zip(ypairs.iter_mut()) {
            let xa = xa.get(k0..k0 + ws.count()).unwrap_or(&[]);
            let xb = xb.get(k0..k0 + ws.count()).unwrap_or(&[]);
            let na = nonzero_offsets(xa, idx);
            let nb = nonzero_offsets(xb, idx2);
            let ia = idx.get(..na).unwrap_or(&[]);
            let ib = idx2.get(..nb).unwrap_or(&[]);
            accumulate_pair::<T, O>(ya, yb, xa, xb, ws, ia, ib);
        }
    }
    let paired = if FUSED { x.len() / 2 * 2 } else { 0 };
    for (xr, yr) in x.iter().zip(y.iter_mut()).skip(paired) {
        let xs = xr.get(k0..k0 + ws.count()).unwrap_or(&[]);
        let n = nonzero_offsets(xs, idx);
        let idx = idx.get(..n).unwrap_or(&[]);
        if FUSED || O <= TILE {
            accumulate::<T, O, O, FUSED>(yr, 0, xs, ws, idx);
            continue;
        }
        let (tiles, tail) = yr.as_chunks_mut::<TILE>();
        for (t, acc) in tiles.iter_mut().enumerate() {
            accumulate::<T, O, TILE, FUSED>(acc, t * TILE, xs, ws, idx);
        }
        let start = O - tail.len();
        for (j, acc) in tail.iter_mut().enumerate() {
            accumulate::<T, O, 1, FUSED>(core::array::from_mut(acc), start + j, xs, ws, idx);
        }
    }
}

/// Batch rows per block of the weight gradient: one bit per row, four `u32` words per input.
const ROW_BLOCK: usize = 128;

/// Inputs whose row masks are built at once (`KSPAN · ROW_BLOCK` bits: 1 KiB of stack).
/// Measured: 32 is 10 % slower, 128 no faster.
const KSPAN: usize = 64;

/// Values per row of [`AlignedRows`]: rows up to this wide (after padding) are copied there.
const ALIGNED_WIDTH: usize = 64;

/// Rows each starting on a vector boundary (32 KiB of `f32`): a block of rows of `dy` for the
/// weight gradient, a span of rows of weights for the forward pass of a batch.
#[repr(C, align(64))]
struct AlignedRows<T>([T; ROW_BLOCK * ALIGNED_WIDTH]);

impl<T: Scalar> AlignedRows<T> {
    /// Empty rows.
    #[inline(always)]
    fn new() -> Self {
        AlignedRows([T::zero(); ROW_BLOCK * ALIGNED_WIDTH])
    }

    /// Copies `rows` (as many as fit) to rows `stride` values apart, and returns them.
    #[inline(always)]
    fn copy<const O: usize>(&mut self, rows: &[[T; O]], stride: usize) -> Strided<'_, T> {
        for (dst, src) in self.0.chunks_exact_mut(stride).zip(rows) {
            if let Some(dst) = dst.get_mut(..O) {
                dst.copy_from_slice(src);
            }
        }
        Strided {
            values: &self.0,
            stride,
            count: rows.len().min(self.0.len() / stride.max(1)),
        }
    }
}

/// The distance between rows of `O` values that start on a vector boundary of a SIMD path
/// whose tiles are `W` values wide (vectors of `W / 2`), when the zero-skipping kernels
/// should copy their rows of `O` values there (the weight gradient its rows of `dy`, the
/// forward pass of a batch its rows of weights, [`forward_sparse`]): on the SIMD paths, for
/// `f32`, when rows of `O` values are not already a whole number of vectors, are at least two
/// vectors long, and fit [`ALIGNED_WIDTH`] padded.
///
/// Each nonzero input loads its row of `dy` (or of weights) a vector at a time, one load per
/// multiply-add.
/// Rows of 50 `f32` lie 200 bytes apart, so most of those loads straddle two 32-byte halves
/// and many two cache lines. Copied to rows 56 values apart (once per block of rows, 100 rows
/// of 50 in about a microsecond), the same loads are aligned. Measured for 784 → 50 at batch
/// 100 on AVX2, forcing the zero-skipping kernel (an interleaved timing of 50
/// batches, min of each): Fashion-MNIST 85 → 75 µs, handwritten digits 39 → 36 µs; the
/// bits are unchanged. `f64` rows of 50 would not fit L1 as a block, and are left in place.
/// Narrower rows gain too little to pay for clearing and filling the block: forcing the
/// zero-skipping kernel on 100 rows, half zero, of 100 inputs (min of 100 runs), 10 outputs
/// took 6.64 µs copied against 6.69 µs in place and 18 outputs 7.05 against 6.97 µs, but 26
/// outputs 7.3 against 9.3 µs and 50 outputs 10.0 against 10.7 µs; the second layer of the
/// book's network (50 → 10) lost 0.3 µs.
#[inline(always)]
fn aligned_stride<T: Scalar, const O: usize, const FUSED: bool, const W: usize>() -> Option<usize> {
    let lanes = (W / 2).max(1);
    let stride = O.next_multiple_of(lanes);
    let pays = O >= 2 * lanes && !O.is_multiple_of(lanes) && stride <= ALIGNED_WIDTH;
    (FUSED && T::BYTES == 4 && pays).then_some(stride)
}

/// Rows `first..first + dw.len()` of `dw = xᵀ · dy`, adding only the rows `r` with
/// `x[r][i] ≠ 0` to row `i` of `dw` (`x` and `dy` with the same number of rows, at least
/// one: [`weight_gradient_body`](super::gradient::weight_gradient_body) sees to that).
///
/// For a span of inputs, one pass over the batch sets bit `r` of input `i`'s mask when
/// `x[r][i]` is not zero (branch-free: a compare, a shift, an or). Then each row of `dw`
/// sums `x[r][i] · dy[r]` over the set bits, lowest first, in registers: the dense
/// kernel's order, without its zero terms. The bits are walked 64 at a time (12 % faster
/// than one `u128`).
#[inline(always)]
pub(super) fn weight_gradient_sparse<
    T: Scalar,
    const I: usize,
    const O: usize,
    const FUSED: bool,
    const W: usize,
>(
    x: &[[T; I]],
    dy: &[[T; O]],
    dw: &mut [[T; O]],
    first: usize,
) {
    match aligned_stride::<T, O, FUSED, W>() {
        Some(stride) => {
            let mut rows = AlignedRows::new();
            for (block, (xb, dyb)) in x.chunks(ROW_BLOCK).zip(dy.chunks(ROW_BLOCK)).enumerate() {
                let aligned = rows.copy(dyb, stride);
                gradient_block::<T, I, O, FUSED>(xb, &aligned, dw, first, block == 0);
            }
        }
        None => {
            for (block, (xb, dyb)) in x.chunks(ROW_BLOCK).zip(dy.chunks(ROW_BLOCK)).enumerate() {
                gradient_block::<T, I, O, FUSED>(xb, dyb, dw, first, block == 0);
            }
        }
    }
}

/// [`weight_gradient_sparse`] for one block of at most [`ROW_BLOCK`] rows: `xb`, and `dy[r]`
/// the row of `dy` of its row `r`. The first block sets `dw`, the others add to it.
#[inline(always)]
fn gradient_block<T: Scalar, const I: usize, const O: usize, const FUSED: bool>(
    xb: &[[T; I]],
    dy: &(impl Rows<T, O> + ?Sized),
    dw: &mut [[T; O]],
    first: usize,
    set: bool,
) {
    for (s, dws) in dw.chunks_mut(KSPAN).enumerate() {
        let k0 = first + s * KSPAN;
        // Four 32-bit words per input, word-major, so the loop over inputs vectorises.
        let mut words = [[0u32; KSPAN]; ROW_BLOCK / 32];
        for (r, xr) in xb.iter().enumerate() {
            let (wd, bit) = (r / 32, r % 32);
            let xs = xr.get(k0..k0 + dws.len()).unwrap_or(&[]);
            if let Some(m) = words.get_mut(wd) {
                for (m, &v) in m.iter_mut().zip(xs) {
                    *m |= u32::from(v != T::zero()) << bit;
                }
            }
        }
        for (j, dwr) in dws.iter_mut().enumerate() {
            let mut acc = if set { [T::zero(); O] } else { *dwr };
            for (h, pair) in words.chunks_exact(2).enumerate() {
                let (lo, hi) = (
                    pair[0].get(j).copied().unwrap_or(0),
                    pair[1].get(j).copied().unwrap_or(0),
                );
                let bits = u64::from(lo) | u64::from(hi) << 32;
                let xh = xb.get(64 * h..).unwrap_or(&[]);
                let dyh = Offset {
                    rows: dy,
                    first: 64 * h,
                };
                sum_rows::<T, I, O, FUSED>(&mut acc, bits, xh, &dyh, k0 + j);
            }
            *dwr = acc;
        }
    }
}

/// `acc += Σ x[r][k] · dy[r]` over the set bits `r` of `bits`, lowest first.
#[inline(always)]
fn sum_rows<T: Scalar, const I: usize, const O: usize, const FUSED: bool>(
    acc: &mut [T; O],
    mut bits: u64,
    x: &[[T; I]],
    dy: &(impl Rows<T, O> + ?Sized),
    k: usize,
) {
    let mut sums = *acc;
    while bits != 0 {
        let r = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        if let (Some(&xv), Some(d)) = (x.get(r).and_then(|xr| xr.get(k)), dy.row(r)) {
            for (a, &dv) in sums.iter_mut().zip(d) {
                *a = madd::<T, FUSED>(xv, dv, *a);
            }
        }
    }
    *acc = sums;
}
