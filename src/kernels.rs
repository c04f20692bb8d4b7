//! The dense linear algebra behind [`Affine`](crate::Affine), on row-major batches.
//!
//! Each kernel takes a batch as a slice of fixed-size rows (`&[[T; I]]`), so every inner
//! dimension is a compile-time constant and the loops vectorise without bounds checks.
//! Loop orders are chosen so the innermost loop runs over contiguous memory with
//! independent accumulators: no kernel depends on fast-math reassociation, so results are
//! identical from run to run and between host and target.

use crate::Scalar;

/// Independent partial sums in a dot product (lets the compiler use vector lanes).
const LANES: usize = 8;

/// Which instructions the kernels run on.
///
/// Chosen at run time (`std` on x86-64): AVX-512, else AVX2 with FMA, else portable code.
/// Without `std`, or on other architectures, the portable kernel runs: plain multiply and
/// add, no fused multiply-add, so results are bit-identical to a straightforward loop
/// (and to a Cortex-M running the same network). The SIMD paths run the same loops with
/// fused multiply-adds, so they differ from it by float rounding only.
///
/// A value of this type can only be obtained for instructions this CPU has.
///
/// ```
/// let k = typenet::kernels::Kernel::detect();
/// assert!(typenet::kernels::Kernel::available().any(|a| a == k));
/// println!("kernels: {}", k.name());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel(Path);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    Portable,
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    Avx2Fma,
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    Avx512,
}

impl Kernel {
    /// The portable kernel (always available).
    pub const PORTABLE: Kernel = Kernel(Path::Portable);

    /// The fastest kernel this CPU supports.
    #[inline]
    pub fn detect() -> Kernel {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        {
            if std::is_x86_feature_detected!("avx512f") {
                return Kernel(Path::Avx512);
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return Kernel(Path::Avx2Fma);
            }
        }
        Kernel::PORTABLE
    }

    /// Every kernel this CPU supports, fastest last.
    pub fn available() -> impl Iterator<Item = Kernel> + Clone + core::fmt::Debug {
        #[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), allow(unused_mut))]
        let mut all = [Some(Kernel::PORTABLE), None, None];
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                all[1] = Some(Kernel(Path::Avx2Fma));
            }
            if std::is_x86_feature_detected!("avx512f") {
                all[2] = Some(Kernel(Path::Avx512));
            }
        }
        all.into_iter().flatten()
    }

    /// `"portable"`, `"avx2+fma"` or `"avx512"`.
    pub fn name(self) -> &'static str {
        match self.0 {
            Path::Portable => "portable",
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Path::Avx2Fma => "avx2+fma",
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Path::Avx512 => "avx512",
        }
    }
}

/// Runs a kernel body on `$k`'s instructions: the portable body without fused
/// multiply-adds and with blocks small enough for 16 registers (a Cortex-M4F's FPU, SSE2),
/// or the same body with fused multiply-adds and larger blocks, compiled for AVX2+FMA or
/// AVX-512. Blocks are `R` rows (or inputs) by `W` outputs; on the SIMD paths `W` is one
/// 64-byte cache line of outputs (16 `f32` or 8 `f64`).
///
/// Each SIMD path is a `#[target_feature]` function whose whole body is the
/// `#[inline(always)]` kernel, so the kernel is always compiled with those instructions.
/// Calling such a function is the crate's only `unsafe`, and it is sound because a
/// [`Kernel`] naming a SIMD path exists only if the CPU was checked to have it.
macro_rules! run {
    ($k:expr, $f:ident($($arg:ident: $ty:ty),*)) => {{
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        #[target_feature(enable = "avx2,fma")]
        fn avx2<T: Scalar, const I: usize, const O: usize, const R: usize, const W: usize>($($arg: $ty),*) {
            $f::<T, I, O, true, R, W>($($arg),*)
        }
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        #[target_feature(enable = "avx512f,avx2,fma")]
        fn avx512<T: Scalar, const I: usize, const O: usize, const R: usize, const W: usize>($($arg: $ty),*) {
            $f::<T, I, O, true, R, W>($($arg),*)
        }
        match $k.0 {
            Path::Portable => $f::<T, I, O, false, 2, 8>($($arg),*),
            // SAFETY (all four arms): `Path::Avx2Fma` and `Path::Avx512` are only created by
            // `Kernel::detect` and `Kernel::available`, after `is_x86_feature_detected!`
            // confirmed "avx2" and "fma", or "avx512f" (and with it AVX2 and FMA); the
            // field of `Kernel` is private, so no other code can create them.
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Path::Avx2Fma if T::BYTES == 4 => unsafe { avx2::<T, I, O, 6, 16>($($arg),*) },
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Path::Avx2Fma => unsafe { avx2::<T, I, O, 6, 8>($($arg),*) },
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Path::Avx512 if T::BYTES == 4 => unsafe { avx512::<T, I, O, 12, 32>($($arg),*) },
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Path::Avx512 => unsafe { avx512::<T, I, O, 12, 16>($($arg),*) },
        }
    }};
}

/// Two-thread splitting (feature `parallel`).
#[cfg(feature = "parallel")]
mod parallel {
    /// Multiply-adds below which a second thread costs more than it saves.
    const MIN_WORK: usize = 1 << 20;

    /// Whether a kernel of `work` multiply-adds should be split across two threads.
    pub(super) fn worth_it(work: usize) -> bool {
        work >= MIN_WORK && rayon::current_num_threads() > 1
    }
}

/// `a·b + c`, fused (one rounding) on the SIMD paths, plain on the portable one.
#[inline(always)]
fn madd<T: Scalar, const FUSED: bool>(a: T, b: T, c: T) -> T {
    if FUSED {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `y[r] = bias + x[r] · w` for every row `r`, with `w` stored (in, out), on the fastest
/// kernel this CPU has.
///
/// ```
/// let x = [[1.0f32, 2.0]];
/// let w = [[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]];
/// let mut y = [[0.0; 3]];
/// typenet::kernels::matmul_bias(&x, &w, &[0.5, 0.5, 0.5], &mut y);
/// assert_eq!(y, [[1.5, 2.5, 8.5]]);
/// ```
#[inline]
pub fn matmul_bias<T: Scalar, const I: usize, const O: usize>(
    x: &[[T; I]],
    w: &[[T; O]; I],
    bias: &[T; O],
    y: &mut [[T; O]],
) {
    matmul_bias_with(Kernel::detect(), x, w, bias, y)
}

/// [`matmul_bias`] on a chosen kernel.
pub fn matmul_bias_with<T: Scalar, const I: usize, const O: usize>(
    kernel: Kernel,
    x: &[[T; I]],
    w: &[[T; O]; I],
    bias: &[T; O],
    y: &mut [[T; O]],
) {
    let rows = x.len().min(y.len());
    #[cfg(feature = "parallel")]
    if parallel::worth_it(rows * I * O) && rows >= 32 {
        // Two halves of the rows: disjoint outputs, each computed exactly as on one thread.
        let half = rows / 16 * 8;
        let (y_lo, y_hi) = y[..rows].split_at_mut(half);
        rayon::join(
            || matmul_bias_rows_with(kernel, &x[..half], w, bias, y_lo),
            || matmul_bias_rows_with(kernel, &x[half..rows], w, bias, y_hi),
        );
        return;
    }
    matmul_bias_rows_with(kernel, &x[..rows], w, bias, &mut y[..rows])
}

#[allow(unsafe_code)] // see `run!`
fn matmul_bias_rows_with<T: Scalar, const I: usize, const O: usize>(
    kernel: Kernel,
    x: &[[T; I]],
    w: &[[T; O]; I],
    bias: &[T; O],
    y: &mut [[T; O]],
) {
    run!(kernel, forward_body(x: &[[T; I]], w: &[[T; O]; I], bias: &[T; O], y: &mut [[T; O]]))
}

/// Inputs per packed panel: a panel of `W` outputs × `KC` inputs is 16 KiB of `f32` at
/// `W = 16`, small enough for the stack and for L1.
const KC: usize = 256;

/// A tile of `W` weight columns for `KC` inputs, copied contiguous and zero-padded past the
/// last output, so the inner loop streams 64-byte rows and never needs a tail case.
#[repr(C, align(64))]
struct Panel<T, const W: usize>([[T; W]; KC]);

#[inline(always)]
fn forward_body<
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
    gemm_body::<T, I, O, FUSED, R, W>(x, y, |panel, width, k0, o0, n| {
        for (p, wi) in panel.chunks_exact_mut(width).zip(&w[k0..]) {
            let src = wi.get(o0..o0 + n).unwrap_or(&[]);
            p[..src.len()].copy_from_slice(src);
            p[src.len()..].fill(T::zero());
        }
    });
}

/// Width of the narrower tile that takes the last outputs when only a few remain (the
/// last 2 of 50, say), instead of a full-width tile that would be mostly padding.
const HALF: usize = 8;

/// Where the `W`-wide tiles over `n` columns should stop and one [`HALF`]-wide tile take the
/// rest: only when `W` is wider than `HALF` and at most `HALF` columns remain.
#[inline(always)]
const fn half_tile_start<const W: usize>(n: usize) -> Option<usize> {
    let full = n / W * W;
    if W > HALF && n > full && n - full <= HALF {
        Some(full)
    } else {
        None
    }
}

/// `y += a · B` for `a` of `K` columns and `B` (`K`×`N`) given through `pack`, which fills a
/// flat panel of `width`-wide rows with rows `k0..` of columns `o0..o0 + n` of `B`,
/// zero-padded. Full tiles are `W` wide; a remainder of at most [`HALF`] columns gets a
/// `HALF`-wide tile. The packing runs once per panel; the micro-kernels do the work.
#[inline(always)]
fn gemm_body<
    T: Scalar,
    const K: usize,
    const N: usize,
    const FUSED: bool,
    const R: usize,
    const W: usize,
>(
    a: &[[T; K]],
    y: &mut [[T; N]],
    pack: impl Fn(&mut [T], usize, usize, usize, usize),
) {
    match half_tile_start::<W>(N) {
        Some(full) => {
            gemm_columns::<T, K, N, FUSED, R, W>(a, y, 0, full, &pack);
            gemm_columns::<T, K, N, FUSED, R, HALF>(a, y, full, N, &pack);
        }
        None => gemm_columns::<T, K, N, FUSED, R, W>(a, y, 0, N, &pack),
    }
}

/// Columns `start..end` of [`gemm_body`], in tiles of `W`.
#[inline(always)]
fn gemm_columns<
    T: Scalar,
    const K: usize,
    const N: usize,
    const FUSED: bool,
    const R: usize,
    const W: usize,
>(
    a: &[[T; K]],
    y: &mut [[T; N]],
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
            let chunk = k0 / KC;
            let (xb, x_rest) = a.as_chunks::<R>();
            let (yb, y_rest) = y.as_chunks_mut::<R>();
            for (xs, ys) in xb.iter().zip(yb.iter_mut()) {
                let mut acc = load_tile::<T, N, R, W>(ys, o0, n);
                let xk = xs.each_ref().map(|xr| xr.as_chunks::<KC>().0.get(chunk));
                match xk.first().copied().flatten() {
                    Some(first) if xk.iter().all(Option::is_some) => {
                        forward_micro::<T, FUSED, R, W>(
                            xk.map(|c| c.unwrap_or(first)),
                            &panel.0,
                            &mut acc,
                        );
                    }
                    _ => {
                        let xk = xs.each_ref().map(|xr| xr.get(k0..k0 + kn).unwrap_or(&[]));
                        forward_micro_short::<T, FUSED, R, W>(xk, &panel.0[..kn], &mut acc);
                    }
                }
                store_tile::<T, N, R, W>(&acc, ys, o0, n);
            }
            for (xr, yr) in x_rest.iter().zip(y_rest.iter_mut()) {
                let yr = core::array::from_mut(yr);
                let mut acc = load_tile::<T, N, 1, W>(yr, o0, n);
                forward_tail::<T, FUSED, W>(
                    xr.get(k0..).unwrap_or(&[]),
                    &panel.0[..kn],
                    &mut acc[0],
                );
                store_tile::<T, N, 1, W>(&acc, yr, o0, n);
            }
        }
    }
}

/// The heart of the forward pass: `acc[r] += Σ_k x[r][k] · panel[k]` over a full chunk of
/// [`KC`] inputs. Every size is a constant, so there is no bounds check and the `R×W`
/// accumulators live in registers.
#[inline(always)]
fn forward_micro<T: Scalar, const FUSED: bool, const R: usize, const W: usize>(
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
fn forward_micro_short<T: Scalar, const FUSED: bool, const R: usize, const W: usize>(
    xk: [&[T]; R],
    panel: &[[T; W]],
    acc: &mut [[T; W]; R],
) {
    let kn = panel.len();
    if xk.iter().any(|x| x.len() != kn) {
        return;
    }
    for (k, wk) in panel.iter().enumerate() {
        for r in 0..R {
            let xv = xk[r][k];
            for j in 0..W {
                acc[r][j] = madd::<T, FUSED>(xv, wk[j], acc[r][j]);
            }
        }
    }
}

/// One row over the last, shorter chunk of inputs.
#[inline(always)]
fn forward_tail<T: Scalar, const FUSED: bool, const W: usize>(
    x: &[T],
    panel: &[[T; W]],
    acc: &mut [T; W],
) {
    for (&xv, wk) in x.iter().zip(panel.iter()) {
        for (a, &wo) in acc.iter_mut().zip(wk.iter()) {
            *a = madd::<T, FUSED>(xv, wo, *a);
        }
    }
}

/// Outputs `o0..o0 + n` of `R` rows, zero-padded to `W`.
#[inline(always)]
fn load_tile<T: Scalar, const O: usize, const R: usize, const W: usize>(
    ys: &[[T; O]; R],
    o0: usize,
    n: usize,
) -> [[T; W]; R] {
    let mut acc = [[T::zero(); W]; R];
    for (a, yr) in acc.iter_mut().zip(ys.iter()) {
        let src = yr.get(o0..o0 + n).unwrap_or(&[]);
        a[..src.len()].copy_from_slice(src);
    }
    acc
}

/// Writes back what [`load_tile`] read.
#[inline(always)]
fn store_tile<T: Scalar, const O: usize, const R: usize, const W: usize>(
    acc: &[[T; W]; R],
    ys: &mut [[T; O]; R],
    o0: usize,
    n: usize,
) {
    for (a, yr) in acc.iter().zip(ys.iter_mut()) {
        if let Some(dst) = yr.get_mut(o0..o0 + n) {
            dst.copy_from_slice(&a[..dst.len()]);
        }
    }
}

/// Outputs per tile of the one-row forward pass on the portable path: few enough to stay
/// in the registers of a Cortex-M4F (32 single-precision registers).
const TILE: usize = 16;

/// One row, weights streamed in place: SIMD registers hold the whole output row; the
/// portable path keeps tiles of [`TILE`] outputs in registers.
#[inline(always)]
fn forward_row<T: Scalar, const I: usize, const O: usize, const FUSED: bool>(
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

/// `dx[r] = dy[r] · wᵀ` for every row `r`, with `w` stored (in, out).
///
/// ```
/// let dy = [[1.0f32, 1.0, 1.0]];
/// let w = [[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]];
/// let mut dx = [[0.0; 2]];
/// typenet::kernels::matmul_transposed(&dy, &w, &mut dx);
/// assert_eq!(dx, [[3.0, 4.0]]);
/// ```
#[inline]
pub fn matmul_transposed<T: Scalar, const I: usize, const O: usize>(
    dy: &[[T; O]],
    w: &[[T; O]; I],
    dx: &mut [[T; I]],
) {
    matmul_transposed_with(Kernel::detect(), dy, w, dx)
}

/// [`matmul_transposed`] on a chosen kernel.
#[allow(unsafe_code)] // see `run!`
pub fn matmul_transposed_with<T: Scalar, const I: usize, const O: usize>(
    kernel: Kernel,
    dy: &[[T; O]],
    w: &[[T; O]; I],
    dx: &mut [[T; I]],
) {
    run!(kernel, transposed_body(dy: &[[T; O]], w: &[[T; O]; I], dx: &mut [[T; I]]))
}

#[inline(always)]
fn transposed_body<
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
    for dxr in dx.iter_mut() {
        dxr.fill(T::zero());
    }
    // dx = dy · wᵀ: panel row k holds wᵀ[k0 + k][i0..i0 + n] = w[i0..i0 + n][k0 + k].
    gemm_body::<T, O, I, FUSED, R, W>(dy, dx, |panel, width, k0, i0, n| {
        for (k, p) in panel.chunks_exact_mut(width).enumerate() {
            p.fill(T::zero());
            for (dst, wi) in p.iter_mut().zip(w.get(i0..i0 + n).unwrap_or(&[])) {
                *dst = wi.get(k0 + k).copied().unwrap_or(T::zero());
            }
        }
    });
}

/// `dw = xᵀ · dy` (overwritten) and `db = Σ_rows dy`, the parameter gradients of `x · w + b`.
///
/// ```
/// let x = [[1.0f32, 2.0], [3.0, 4.0]];
/// let dy = [[1.0f32, 0.0, 1.0], [0.0, 1.0, 1.0]];
/// let (mut dw, mut db) = ([[0.0; 3]; 2], [0.0; 3]);
/// typenet::kernels::weight_gradient(&x, &dy, &mut dw, &mut db);
/// assert_eq!(dw, [[1.0, 3.0, 4.0], [2.0, 4.0, 6.0]]);
/// assert_eq!(db, [1.0, 1.0, 2.0]);
/// ```
#[inline]
pub fn weight_gradient<T: Scalar, const I: usize, const O: usize>(
    x: &[[T; I]],
    dy: &[[T; O]],
    dw: &mut [[T; O]; I],
    db: &mut [T; O],
) {
    weight_gradient_with(Kernel::detect(), x, dy, dw, db)
}

/// [`weight_gradient`] on a chosen kernel.
pub fn weight_gradient_with<T: Scalar, const I: usize, const O: usize>(
    kernel: Kernel,
    x: &[[T; I]],
    dy: &[[T; O]],
    dw: &mut [[T; O]; I],
    db: &mut [T; O],
) {
    let rows = x.len().min(dy.len());
    let (x, dy) = (&x[..rows], &dy[..rows]);
    let mut acc = [T::zero(); O];
    for dyr in dy {
        for (a, &d) in acc.iter_mut().zip(dyr.iter()) {
            *a = *a + d;
        }
    }
    *db = acc;
    #[cfg(feature = "parallel")]
    if parallel::worth_it(rows * I * O) && I >= 16 {
        // Two halves of the rows of dw: disjoint outputs, each computed exactly as on
        // one thread.
        let half = I / 16 * 8;
        let (lo, hi) = dw.split_at_mut(half);
        rayon::join(
            || weight_gradient_rows_with(kernel, x, dy, lo, 0),
            || weight_gradient_rows_with(kernel, x, dy, hi, half),
        );
        return;
    }
    weight_gradient_rows_with(kernel, x, dy, dw, 0)
}

/// Rows `first..first + dw.len()` of `dw = xᵀ · dy`.
#[allow(unsafe_code)] // see `run!`
fn weight_gradient_rows_with<T: Scalar, const I: usize, const O: usize>(
    kernel: Kernel,
    x: &[[T; I]],
    dy: &[[T; O]],
    dw: &mut [[T; O]],
    first: usize,
) {
    run!(kernel, weight_gradient_rows(x: &[[T; I]], dy: &[[T; O]], dw: &mut [[T; O]], first: usize))
}

#[inline(always)]
fn weight_gradient_rows<
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
    let rows = x.len().min(dy.len());
    let (x, dy) = (&x[..rows], &dy[..rows]);
    if rows == 0 {
        dw.iter_mut().for_each(|r| r.fill(T::zero()));
        return;
    }
    match half_tile_start::<W>(O) {
        Some(full) => {
            weight_gradient_columns::<T, I, O, FUSED, R, W>(x, dy, dw, first, 0, full);
            weight_gradient_columns::<T, I, O, FUSED, R, HALF>(x, dy, dw, first, full, O);
        }
        None => weight_gradient_columns::<T, I, O, FUSED, R, W>(x, dy, dw, first, 0, O),
    }
}

/// Columns `start..end` of [`weight_gradient_rows`], in tiles of `W`.
#[inline(always)]
fn weight_gradient_columns<
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
                p[..src.len()].copy_from_slice(src);
                p[src.len()..].fill(T::zero());
            }
            let (panel, xs) = (&panel.0[..rn], &x[r0..r0 + rn]);
            let (dw_blocks, dw_rest) = dw.as_chunks_mut::<R>();
            for (blk, dwb) in dw_blocks.iter_mut().enumerate() {
                let i0 = first + blk * R;
                let mut acc = if r0 == 0 {
                    [[T::zero(); W]; R]
                } else {
                    load_tile::<T, O, R, W>(dwb, o0, n)
                };
                for (xr, pk) in xs.iter().zip(panel.iter()) {
                    let Some(xv) = xr.get(i0..i0 + R) else {
                        break;
                    };
                    for (a, &xi) in acc.iter_mut().zip(xv.iter()) {
                        for (ao, &d) in a.iter_mut().zip(pk.iter()) {
                            *ao = madd::<T, FUSED>(xi, d, *ao);
                        }
                    }
                }
                store_tile::<T, O, R, W>(&acc, dwb, o0, n);
            }
            let rest_first = first + dw_blocks.len() * R;
            for (k, dwi) in dw_rest.iter_mut().enumerate() {
                let dwi = core::array::from_mut(dwi);
                let mut acc = if r0 == 0 {
                    [[T::zero(); W]; 1]
                } else {
                    load_tile::<T, O, 1, W>(dwi, o0, n)
                };
                for (xr, pk) in xs.iter().zip(panel.iter()) {
                    let xi = xr.get(rest_first + k).copied().unwrap_or(T::zero());
                    for (ao, &d) in acc[0].iter_mut().zip(pk.iter()) {
                        *ao = madd::<T, FUSED>(xi, d, *ao);
                    }
                }
                store_tile::<T, O, 1, W>(&acc, dwi, o0, n);
            }
        }
    }
}

/// Dot product with [`LANES`] independent partial sums, added in a fixed order.
#[inline(always)]
fn dot<T: Scalar, const FUSED: bool>(a: &[T], b: &[T]) -> T {
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

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    #[cfg(feature = "parallel")]
    use std::{boxed::Box, vec, vec::Vec};

    /// Textbook triple loop, the reference every kernel must agree with.
    fn reference<const R: usize, const I: usize, const O: usize>(
        x: &[[f64; I]; R],
        w: &[[f64; O]; I],
    ) -> [[f64; O]; R] {
        let mut y = [[0.0; O]; R];
        for r in 0..R {
            for o in 0..O {
                for i in 0..I {
                    y[r][o] += x[r][i] * w[i][o];
                }
            }
        }
        y
    }

    fn fill<const A: usize, const B: usize>(seed: f64) -> [[f64; B]; A] {
        let mut m = [[0.0; B]; A];
        for (r, row) in m.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = ((r * 31 + c * 17) as f64 * seed).sin();
            }
        }
        m
    }

    /// Every kernel this CPU supports agrees with the textbook loops on `R` rows, `I`
    /// inputs and `O` outputs; the sizes below are chosen not to be multiples of the
    /// vector width, the row blocks or the output tiles, so every tail path runs.
    fn check_against_reference<const R: usize, const I: usize, const O: usize>() {
        let x: [[f64; I]; R] = fill(0.37);
        let w: [[f64; O]; I] = fill(0.11);
        let bias: [f64; O] = fill::<1, O>(0.23)[0];
        let dy: [[f64; O]; R] = fill(0.53);
        for k in Kernel::available() {
            // forward
            let mut y = [[0.0; O]; R];
            matmul_bias_with(k, &x, &w, &bias, &mut y);
            let mut want = reference(&x, &w);
            for row in want.iter_mut() {
                for (v, b) in row.iter_mut().zip(bias.iter()) {
                    *v += b;
                }
            }
            close(&y, &want, k, "matmul_bias");
            // dx = dy · wᵀ
            let mut wt = [[0.0; I]; O];
            for i in 0..I {
                for o in 0..O {
                    wt[o][i] = w[i][o];
                }
            }
            let mut dx = [[0.0; I]; R];
            matmul_transposed_with(k, &dy, &w, &mut dx);
            close(&dx, &reference(&dy, &wt), k, "matmul_transposed");
            // dw = xᵀ · dy, db = Σ dy
            let mut xt = [[0.0; R]; I];
            for r in 0..R {
                for i in 0..I {
                    xt[i][r] = x[r][i];
                }
            }
            let (mut dw, mut db) = ([[0.0; O]; I], [0.0; O]);
            weight_gradient_with(k, &x, &dy, &mut dw, &mut db);
            close(&dw, &reference(&xt, &dy), k, "weight_gradient");
            let ones = [[1.0; R]; 1];
            close(&[db], &reference(&ones, &dy), k, "bias gradient");
        }
    }

    fn close<const A: usize, const B: usize>(
        got: &[[f64; B]; A],
        want: &[[f64; B]; A],
        k: Kernel,
        what: &str,
    ) {
        for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
            assert!(
                (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
                "{what} on {}: {g} vs {w}",
                k.name()
            );
        }
    }

    #[test]
    fn every_kernel_agrees_with_reference_on_odd_sizes() {
        check_against_reference::<7, 13, 11>();
        check_against_reference::<13, 13, 19>();
        check_against_reference::<17, 21, 50>();
        check_against_reference::<1, 784, 50>();
        check_against_reference::<9, 8, 3>();
    }

    #[test]
    fn f32_kernels_agree_with_the_portable_kernel_within_rounding() {
        let x: [[f64; 784]; 10] = fill(0.71);
        let w: [[f64; 50]; 784] = fill(0.29);
        let x32 = x.map(|r| r.map(|v| v as f32));
        let w32 = w.map(|r| r.map(|v| v as f32 * 0.05));
        let mut base = [[0.0f32; 50]; 10];
        matmul_bias_with(Kernel::PORTABLE, &x32, &w32, &[0.0; 50], &mut base);
        for k in Kernel::available() {
            let mut y = [[0.0f32; 50]; 10];
            matmul_bias_with(k, &x32, &w32, &[0.0; 50], &mut y);
            for (a, b) in y.iter().flatten().zip(base.iter().flatten()) {
                assert!(
                    (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                    "{}: {a} vs {b}",
                    k.name()
                );
            }
        }
    }

    #[cfg(feature = "parallel")]
    #[test]
    fn two_threads_give_bit_identical_results() {
        let x: Vec<[f32; 784]> = (0..100)
            .map(|r| core::array::from_fn(|i| ((r * 7 + i * 3) % 17) as f32 / 17.0))
            .collect();
        let w: [[f32; 50]; 784] = core::array::from_fn(|i| {
            core::array::from_fn(|o| ((i * 5 + o) % 13) as f32 / 130.0 - 0.05)
        });
        let dy: Vec<[f32; 50]> = (0..100)
            .map(|r| core::array::from_fn(|o| ((r + o * 11) % 7) as f32 / 70.0 - 0.05))
            .collect();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut y = vec![[0.0f32; 50]; 100];
                matmul_bias(&x, &w, &[0.1; 50], &mut y);
                let (mut dw, mut db) = (Box::new([[0.0f32; 50]; 784]), [0.0; 50]);
                weight_gradient(&x, &dy, &mut dw, &mut db);
                (y, dw, db)
            })
        };
        let (one, two) = (run(1), run(2));
        assert!(one.0 == two.0 && one.1 == two.1 && one.2 == two.2);
    }
}
