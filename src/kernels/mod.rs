//! The dense linear algebra behind [`Affine`](crate::Affine), on row-major batches.
//!
//! Each kernel takes a batch as a slice of fixed-size rows (`&[[T; I]]`), so every inner
//! dimension is a compile-time constant and the loops vectorise without bounds checks.
//! Loop orders are chosen so the innermost loop runs over contiguous memory with
//! independent accumulators: no kernel depends on fast-math reassociation, so results are
//! identical from run to run and between host and target.
//!
//! The forward pass and the weight gradient skip inputs that are exactly zero when a batch
//! has few enough nonzero entries to pay for it (pixels of handwritten digits are 81 %
//! zero). That changes speed, not results: the remaining terms are added in the same order,
//! so the bits are those of the dense kernel (tested on every path). The one exception is an
//! infinite weight facing a zero input: IEEE arithmetic makes that product NaN, and the
//! zero-skipping kernels skip it like any zero term.

use crate::Scalar;

/// Independent partial sums in a dot product (lets the compiler use vector lanes).
const LANES: usize = 8;

/// Outputs per tile of the one-row forward pass on the portable path (dense and
/// zero-skipping): few enough to stay in the registers of a Cortex-M4F (32 single-precision
/// registers).
const TILE: usize = 16;

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
    /// The AVX-512 path's blocks and tiles compiled for AVX2+FMA, so the unit tests run
    /// that path's loops (12-row blocks, 32-wide tiles, its zero-skipping thresholds) on a
    /// CPU without AVX-512. Only the instruction encoding then goes untested.
    #[cfg(all(test, feature = "std", target_arch = "x86_64"))]
    Avx512Blocks,
}

impl Kernel {
    /// The portable kernel (always available).
    pub const PORTABLE: Kernel = Kernel(Path::Portable);

    /// This kernel, or AVX2+FMA in place of AVX-512: for the kernels whose AVX-512 code is
    /// slower. Max pooling: LLVM turns the AVX-512 instantiation's stride-2 windows into
    /// masked gathers and scatters; on a Zen 5 core SimpleConvNet's pooling forward took
    /// 1.20 ms with AVX-512 code and 0.135 ms with AVX2. The backward pass follows the
    /// forward's choice (its AVX-512 code was slower too, 4.07 against 2.21 ms, before it
    /// was rewritten without branches; not yet measured since).
    #[inline]
    const fn at_most_avx2(self) -> Kernel {
        match self.0 {
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Path::Avx512 => Kernel(Path::Avx2Fma),
            _ => self,
        }
    }

    /// The fastest kernel this CPU supports.
    #[inline]
    pub fn detect() -> Kernel {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        {
            if has_avx512() {
                return Kernel(Path::Avx512);
            }
            if has_avx2() {
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
            if has_avx2() {
                all[1] = Some(Kernel(Path::Avx2Fma));
            }
            if has_avx512() {
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
            #[cfg(all(test, feature = "std", target_arch = "x86_64"))]
            Path::Avx512Blocks => "avx512 blocks on avx2+fma",
        }
    }
}

/// Whether this CPU runs the AVX2 path: AVX2, FMA, and POPCNT (for the index lists of the
/// zero-skipping kernels; without it a count is a dozen instructions on their critical path).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
        && std::is_x86_feature_detected!("popcnt")
}

/// Whether this CPU runs the AVX-512 path: the AVX2 path's instructions and AVX-512F.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
fn has_avx512() -> bool {
    has_avx2() && std::is_x86_feature_detected!("avx512f")
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
        #[target_feature(enable = "avx2,fma,popcnt")]
        fn avx2<T: Scalar, const I: usize, const O: usize, const R: usize, const W: usize>($($arg: $ty),*) {
            $f::<T, I, O, true, R, W>($($arg),*)
        }
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        #[target_feature(enable = "avx512f,avx2,fma,popcnt")]
        fn avx512<T: Scalar, const I: usize, const O: usize, const R: usize, const W: usize>($($arg: $ty),*) {
            $f::<T, I, O, true, R, W>($($arg),*)
        }
        match $k.0 {
            Path::Portable => $f::<T, I, O, false, 2, 8>($($arg),*),
            // SAFETY (all four arms): `Path::Avx2Fma` and `Path::Avx512` are only created by
            // `Kernel::detect` and `Kernel::available`, after `is_x86_feature_detected!`
            // confirmed "avx2", "fma" and "popcnt" (`has_avx2`), and for `Avx512` also
            // "avx512f" (`has_avx512`); `Kernel::at_most_avx2` makes `Avx2Fma` only from
            // `Avx512`, whose check includes AVX2's. The field of `Kernel` is private, so no
            // other code can create them.
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Path::Avx2Fma if T::BYTES == 4 => unsafe { avx2::<T, I, O, 6, 16>($($arg),*) },
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Path::Avx2Fma => unsafe { avx2::<T, I, O, 6, 8>($($arg),*) },
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Path::Avx512 if T::BYTES == 4 => unsafe { avx512::<T, I, O, 12, 32>($($arg),*) },
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Path::Avx512 => unsafe { avx512::<T, I, O, 12, 16>($($arg),*) },
            // SAFETY (both arms): `Path::Avx512Blocks` only exists in unit tests, which create
            // it only after `has_avx2` confirmed the instructions `avx2` is compiled for.
            #[cfg(all(test, feature = "std", target_arch = "x86_64"))]
            Path::Avx512Blocks if T::BYTES == 4 => unsafe { avx2::<T, I, O, 12, 32>($($arg),*) },
            #[cfg(all(test, feature = "std", target_arch = "x86_64"))]
            Path::Avx512Blocks => unsafe { avx2::<T, I, O, 12, 16>($($arg),*) },
        }
    }};
}

/// Two-thread splitting (feature `parallel`).
#[cfg(feature = "parallel")]
mod parallel {
    use super::Density;

    /// Multiply-adds below which a second thread costs more than it saves, in general: 8 M,
    /// so the book's network splits from a batch of about 200. In a training loop the second
    /// thread has gone to sleep by the time a kernel starts, and waking it costs tens of
    /// µs. Measured for 784 → 50, each call after a 300 µs pause
    /// (`cargo bench --features parallel --bench typenet -- parallel_scaling`): batch 100,
    /// 212 µs on one thread and 233 µs on two; batch 400, 627 and 462 µs; batch 1000, 1.20
    /// and 0.90 ms. Such batches are split only when dense: a zero-skipping batch's work is
    /// a fraction of the count.
    const MIN_WORK: usize = 1 << 23;

    /// The same inside [`keep_awake`](crate::parallel::keep_awake), where the second thread
    /// spins and a split costs about a microsecond: 1 M, so layer 1 of the book's network
    /// splits from a batch of 27 and layer 2 never does. Dense or zero-skipping.
    const MIN_WORK_AWAKE: usize = 1 << 20;

    /// How a kernel of `work` multiply-adds runs: whether to split it in two, and with which
    /// density. Inside `keep_awake`, each half counts its own part of the batch (`Auto`: the
    /// kernels give the same bits either way, and a thread then reads only its own share);
    /// elsewhere a large batch is counted once by `sparse` and split only if dense.
    pub(super) fn plan(work: usize, sparse: impl FnOnce() -> bool) -> (Density, bool) {
        if crate::parallel::is_awake() {
            return (Density::Auto, work >= MIN_WORK_AWAKE);
        }
        match work >= MIN_WORK && rayon::current_num_threads() > 1 {
            false => (Density::Auto, false),
            true if sparse() => (Density::Sparse, false),
            true => (Density::Dense, true),
        }
    }
}

/// Which kernel a batch takes: decided by its share of zeros, or forced (when the caller
/// has already counted, or to test one kernel against the other).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(any(test, feature = "parallel")), allow(dead_code))]
enum Density {
    /// Count the nonzero entries and choose.
    Auto,
    /// The dense kernel.
    Dense,
    /// The zero-skipping kernel.
    Sparse,
}

impl Density {
    /// Whether to take the zero-skipping kernel, calling `count` only for [`Density::Auto`].
    #[inline(always)]
    fn sparse(self, count: impl FnOnce() -> bool) -> bool {
        match self {
            Density::Auto => count(),
            Density::Dense => false,
            Density::Sparse => true,
        }
    }
}

/// A pixel byte as a value in `[0, 1]`: `b · scale` with `scale = 1/255`, how the loaders
/// and [`Pixels`](crate::data::Pixels) read every pixel, so the two give the same values.
#[cfg(feature = "alloc")]
#[inline(always)]
pub(crate) fn pixel<T: Scalar>(b: u8, scale: T) -> T {
    T::from_f64(f64::from(b)) * scale
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
    let (x, y) = (&x[..rows], &mut y[..rows]);
    #[cfg(feature = "parallel")]
    if rows >= 16 {
        match parallel::plan(rows * I * O, || sparse::mostly_zero::<T, I, O, true, 16>(x)) {
            (density, true) => {
                // Two halves of the rows: disjoint outputs, each computed exactly as on one
                // thread.
                let half = crate::parallel::half(rows);
                let (y_lo, y_hi) = y.split_at_mut(half);
                rayon::join(
                    || matmul_bias_rows_with(kernel, &x[..half], w, bias, y_lo, density),
                    || matmul_bias_rows_with(kernel, &x[half..], w, bias, y_hi, density),
                );
                return;
            }
            (density, false) => return matmul_bias_rows_with(kernel, x, w, bias, y, density),
        }
    }
    matmul_bias_rows_with(kernel, x, w, bias, y, Density::Auto)
}

#[allow(unsafe_code)] // see `run!`
fn matmul_bias_rows_with<T: Scalar, const I: usize, const O: usize>(
    kernel: Kernel,
    x: &[[T; I]],
    w: &[[T; O]; I],
    bias: &[T; O],
    y: &mut [[T; O]],
    density: Density,
) {
    run!(kernel, forward_body(x: &[[T; I]], w: &[[T; O]; I], bias: &[T; O], y: &mut [[T; O]], density: Density))
}

/// `dst[j] = src[j] · scale` for the bytes of an image (how [`Pixels`](crate::data::Pixels)
/// reads pixels), on the fastest kernel this CPU has: every path gives the same values (one
/// exact conversion, one rounded product), the SIMD ones about 2.7× faster.
#[cfg(feature = "alloc")]
pub(crate) fn scale_bytes<T: Scalar>(src: &[u8], dst: &mut [T], scale: T) {
    scale_bytes_with(Kernel::detect(), src, dst, scale)
}

/// [`scale_bytes`] on a chosen kernel.
#[cfg(feature = "alloc")]
#[allow(unsafe_code)] // see `run!`
fn scale_bytes_with<T: Scalar>(kernel: Kernel, src: &[u8], dst: &mut [T], scale: T) {
    // `run!` passes a layer's sizes, which this kernel does not have.
    const I: usize = 0;
    const O: usize = 0;
    run!(kernel, scale_bytes_body(src: &[u8], dst: &mut [T], scale: T))
}

/// [`scale_bytes`] in blocks of 16 bytes, so that the loop vectorises at full width.
#[cfg(feature = "alloc")]
#[inline(always)]
fn scale_bytes_body<
    T: Scalar,
    const I: usize,
    const O: usize,
    const FUSED: bool,
    const R: usize,
    const W: usize,
>(
    src: &[u8],
    dst: &mut [T],
    scale: T,
) {
    let (dst_blocks, dst_tail) = dst.as_chunks_mut::<16>();
    let (src_blocks, src_tail) = src.as_chunks::<16>();
    for (d, s) in dst_blocks.iter_mut().zip(src_blocks) {
        for (o, &b) in d.iter_mut().zip(s) {
            *o = pixel(b, scale);
        }
    }
    if dst_blocks.len() == src_blocks.len() {
        for (o, &b) in dst_tail.iter_mut().zip(src_tail) {
            *o = pixel(b, scale);
        }
    }
}

mod conv;
mod gemm;
mod gradient;
pub mod int8;
mod pool;
mod short;
mod sparse;
#[cfg(test)]
mod tests;

pub use conv::Geometry;
use conv::{conv_forward_body, conv_weight_gradient_body};
use gemm::{forward_body, transposed_body};
use gradient::weight_gradient_body;
use pool::{max_pool_backward_body, max_pool_body};

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
    if I >= 16 {
        // The AVX2 path's threshold (16-wide tiles) decides whether a large batch outside
        // `keep_awake` is dense enough to split; AVX-512's is lower, so there a batch in between
        // takes the dense kernel on one thread.
        match parallel::plan(rows * I * O, || {
            sparse::sparse_enough::<T, I, O, true, 16>(x, 0..I)
        }) {
            (density, true) => {
                // Two halves of the rows of dw: disjoint outputs, each computed exactly as on
                // one thread.
                let half = crate::parallel::half(I);
                let (lo, hi) = dw.split_at_mut(half);
                rayon::join(
                    || weight_gradient_rows_with(kernel, x, dy, lo, 0, density),
                    || weight_gradient_rows_with(kernel, x, dy, hi, half, density),
                );
                return;
            }
            (density, false) => {
                return weight_gradient_rows_with(kernel, x, dy, dw, 0, density);
            }
        }
    }
    weight_gradient_rows_with(kernel, x, dy, dw, 0, Density::Auto)
}

/// Rows `first..first + dw.len()` of `dw = xᵀ · dy`.
#[allow(unsafe_code)] // see `run!`
fn weight_gradient_rows_with<T: Scalar, const I: usize, const O: usize>(
    kernel: Kernel,
    x: &[[T; I]],
    dy: &[[T; O]],
    dw: &mut [[T; O]],
    first: usize,
    density: Density,
) {
    run!(kernel, weight_gradient_body(x: &[[T; I]], dy: &[[T; O]], dw: &mut [[T; O]], first: usize, density: Density))
}

/// One sample of a 2-D convolution: `y[co][pix] = b[co] + Σ_p w[co][p] · col[p][pix]`, where
/// `x` is the sample (`channels·height·width` values, channels first), `w` has one row of
/// `PATCH = channels·window²` weights per output channel (PyTorch's layout, flattened) and
/// `y` one row of `PIXELS = out_height·out_width` outputs per output channel.
///
/// ```
/// use typenet::kernels::{conv_forward, Geometry};
/// // A 3×3 image, one 2×2 kernel, stride 1, no padding: four outputs.
/// let g = Geometry { channels: 1, height: 3, width: 3, window: 2, stride: 1, pad: 0, out_height: 2, out_width: 2 };
/// let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
/// let w = [[1.0, 0.0, 0.0, 1.0]]; // x[i][j] + x[i+1][j+1]
/// let mut y = [[0.0; 4]];
/// conv_forward(&g, &x, &w, &[0.5], &mut y);
/// assert_eq!(y, [[6.5, 8.5, 12.5, 14.5]]);
/// ```
#[inline]
pub fn conv_forward<T: Scalar, const PATCH: usize, const PIXELS: usize>(
    g: &Geometry,
    x: &[T],
    w: &[[T; PATCH]],
    b: &[T],
    y: &mut [[T; PIXELS]],
) {
    conv_forward_with(Kernel::detect(), g, x, w, b, y)
}

/// [`conv_forward`] on a chosen kernel.
#[allow(unsafe_code)] // see `run!`
pub fn conv_forward_with<T: Scalar, const I: usize, const O: usize>(
    kernel: Kernel,
    g: &Geometry,
    x: &[T],
    w: &[[T; I]],
    b: &[T],
    y: &mut [[T; O]],
) {
    for (yr, &bias) in y.iter_mut().zip(b) {
        yr.fill(bias);
    }
    let rows = w.len().min(y.len()).min(b.len());
    let (w, y) = (&w[..rows], &mut y[..rows]);
    run!(kernel, conv_forward_body(g: &Geometry, x: &[T], w: &[[T; I]], y: &mut [[T; O]]))
}

/// The parameter gradients of [`conv_forward`] for one sample, added to `dw` and `db`:
/// `dw[co][p] += Σ_pix dy[co][pix] · col[p][pix]`, `db[co] += Σ_pix dy[co][pix]`.
///
/// ```
/// use typenet::kernels::{conv_weight_gradient, Geometry};
/// let g = Geometry { channels: 1, height: 3, width: 3, window: 2, stride: 1, pad: 0, out_height: 2, out_width: 2 };
/// let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
/// let (mut dw, mut db) = ([[0.0; 4]], [0.0]);
/// conv_weight_gradient(&g, &x, &[[1.0, 0.0, 0.0, 0.0]], &mut dw, &mut db);
/// assert_eq!(dw, [[1.0, 2.0, 4.0, 5.0]]); // the patch under the first output
/// assert_eq!(db, [1.0]);
/// ```
#[inline]
pub fn conv_weight_gradient<T: Scalar, const PIXELS: usize, const PATCH: usize>(
    g: &Geometry,
    x: &[T],
    dy: &[[T; PIXELS]],
    dw: &mut [[T; PATCH]],
    db: &mut [T],
) {
    conv_weight_gradient_with(Kernel::detect(), g, x, dy, dw, db)
}

/// [`conv_weight_gradient`] on a chosen kernel.
#[allow(unsafe_code)] // see `run!`
pub fn conv_weight_gradient_with<T: Scalar, const I: usize, const O: usize>(
    kernel: Kernel,
    g: &Geometry,
    x: &[T],
    dy: &[[T; I]],
    dw: &mut [[T; O]],
    db: &mut [T],
) {
    for (d, row) in db.iter_mut().zip(dy) {
        *d = *d + sum(row);
    }
    let rows = dy.len().min(dw.len());
    let (dy, dw) = (&dy[..rows], &mut dw[..rows]);
    run!(kernel, conv_weight_gradient_body(g: &Geometry, x: &[T], dy: &[[T; I]], dw: &mut [[T; O]]))
}

/// Partial sums in [`sum`]: four vectors of 8 `f32` (eight SSE registers where the
/// caller is not compiled for AVX), so the additions do not wait on each other.
/// SimpleConvNet's bias gradient (30 × 576 values per sample, batch 100, Zen 3) took
/// 0.9 ms with 8.
const SUM_LANES: usize = 32;

/// `Σ values` in [`SUM_LANES`] partial sums, added in a fixed order.
#[inline]
fn sum<T: Scalar>(values: &[T]) -> T {
    let (chunks, tail) = values.as_chunks::<SUM_LANES>();
    let mut acc = [T::zero(); SUM_LANES];
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = *a + v;
        }
    }
    let tail = tail.iter().fold(T::zero(), |s, &v| s + v);
    acc.iter().fold(T::zero(), |s, &v| s + v) + tail
}

/// The input gradient of [`conv_forward`] for one sample, written to `dx`: `dcol = wᵀ · dy`
/// (`wt` is `w` transposed, one row of `C_OUT` per kernel weight; `dcol` is scratch, one row
/// per kernel weight), then each `dcol[p][pix]` added to the input it was read from.
pub fn conv_input_gradient<T: Scalar, const C_OUT: usize, const PIXELS: usize>(
    g: &Geometry,
    wt: &[[T; C_OUT]],
    dy: &[[T; PIXELS]; C_OUT],
    dcol: &mut [[T; PIXELS]],
    dx: &mut [T],
) {
    matmul_bias(wt, dy, &[T::zero(); PIXELS], dcol);
    dx.fill(T::zero());
    g.scatter(dcol.as_flattened(), PIXELS, dx);
}

/// Max pooling of one sample: `x` has a row of `I` (the input width) per channel and input
/// row, `y` a row of `O` (the output width) per channel and output row; `g` gives the window
/// and stride. NaN inputs reach the output.
///
/// ```
/// use typenet::kernels::{max_pool, Geometry};
/// let g = Geometry { channels: 1, height: 2, width: 4, window: 2, stride: 2, pad: 0, out_height: 1, out_width: 2 };
/// let mut y = [[0.0f32; 2]];
/// max_pool(&g, &[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 7.0]], &mut y);
/// assert_eq!(y, [[5.0, 8.0]]);
/// ```
#[inline]
pub fn max_pool<T: Scalar, const I: usize, const O: usize>(
    g: &Geometry,
    x: &[[T; I]],
    y: &mut [[T; O]],
) {
    max_pool_with(Kernel::detect(), g, x, y)
}

/// [`max_pool`] on a chosen kernel.
#[allow(unsafe_code)] // see `run!`
pub fn max_pool_with<T: Scalar, const I: usize, const O: usize>(
    kernel: Kernel,
    g: &Geometry,
    x: &[[T; I]],
    y: &mut [[T; O]],
) {
    run!(kernel.at_most_avx2(), max_pool_body(g: &Geometry, x: &[[T; I]], y: &mut [[T; O]]))
}

/// The input gradient of [`max_pool`], written to `dx`: each window's gradient goes to the
/// first of its inputs (in reading order) that equals its output `y`.
#[inline]
pub fn max_pool_backward<T: Scalar, const I: usize, const O: usize>(
    g: &Geometry,
    x: &[[T; I]],
    y: &[[T; O]],
    dy: &[[T; O]],
    dx: &mut [[T; I]],
) {
    max_pool_backward_with(Kernel::detect(), g, x, y, dy, dx)
}

/// [`max_pool_backward`] on a chosen kernel.
#[allow(unsafe_code)] // see `run!`
pub fn max_pool_backward_with<T: Scalar, const I: usize, const O: usize>(
    kernel: Kernel,
    g: &Geometry,
    x: &[[T; I]],
    y: &[[T; O]],
    dy: &[[T; O]],
    dx: &mut [[T; I]],
) {
    run!(kernel.at_most_avx2(), max_pool_backward_body(g: &Geometry, x: &[[T; I]], y: &[[T; O]], dy: &[[T; O]], dx: &mut [[T; I]]))
}
