//! Every kernel path against textbook loops, and the two-thread split against one thread.
use super::*;
extern crate std;
#[cfg(feature = "parallel")]
use std::{boxed::Box, vec, vec::Vec};

/// Every kernel this CPU supports and, on an AVX2 CPU without AVX-512, the AVX-512 path's
/// blocks and tiles run on AVX2 instructions ([`Path::Avx512Blocks`]): the tests below then
/// check that path's loops too, on any AVX2 machine.
fn paths() -> impl Iterator<Item = Kernel> {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    let emulated = (has_avx2() && !has_avx512()).then_some(Kernel(Path::Avx512Blocks));
    #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
    let emulated = None;
    Kernel::available().chain(emulated)
}

/// An AVX2 machine runs the AVX-512 path's loops, natively or on AVX2 instructions.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[test]
fn the_avx512_blocks_run_on_every_avx2_machine() {
    if has_avx2() {
        let expected = ["avx2+fma", "avx512 blocks on avx2+fma"];
        let native = ["avx2+fma", "avx512"];
        let names: std::vec::Vec<&str> = paths().skip(1).map(Kernel::name).collect();
        assert!(names == expected || names == native, "{names:?}");
    }
}

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
    for k in paths() {
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

/// The `f32` forward pass of every path agrees with the portable kernel within rounding, on
/// `R` rows of `I` inputs to `O` outputs.
fn check_f32_forward<const R: usize, const I: usize, const O: usize>() {
    let x: [[f64; I]; R] = fill(0.71);
    let w: [[f64; O]; I] = fill(0.29);
    let x32 = x.map(|r| r.map(|v| v as f32));
    let w32 = w.map(|r| r.map(|v| v as f32 * 0.05));
    let mut base = [[0.0f32; O]; R];
    matmul_bias_with(Kernel::PORTABLE, &x32, &w32, &[0.0; O], &mut base);
    for k in paths() {
        let mut y = [[0.0f32; O]; R];
        matmul_bias_with(k, &x32, &w32, &[0.0; O], &mut y);
        for (a, b) in y.iter().flatten().zip(base.iter().flatten()) {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "{}, {R}x{I}x{O}: {a} vs {b}",
                k.name()
            );
        }
    }
}

#[test]
fn f32_kernels_agree_with_the_portable_kernel_within_rounding() {
    check_f32_forward::<10, 784, 50>();
    // Blocks of 6 and 12 rows with every remainder block (4, 2, 1); tiles of 16 and 32
    // outputs with half-width and narrower tails.
    check_f32_forward::<31, 100, 50>();
    check_f32_forward::<19, 37, 70>();
    check_f32_forward::<12, 20, 16>();
    check_f32_forward::<27, 9, 10>();
}

/// The dense weight gradient in `f32` agrees with an `f64` reference on every path, for
/// output counts that end in a tile of one or two columns (50 = 48 + 2, 49 = 48 + 1) and
/// input counts that end in a partial block.
fn check_f32_weight_gradient<const R: usize, const I: usize, const O: usize>() {
    let x: [[f64; I]; R] = fill(0.71);
    let dy: [[f64; O]; R] = fill(0.37);
    let xt: [[f64; R]; I] = core::array::from_fn(|i| core::array::from_fn(|r| x[r][i]));
    let want = reference(&xt, &dy);
    let (x32, dy32) = (
        x.map(|r| r.map(|v| v as f32)),
        dy.map(|r| r.map(|v| v as f32)),
    );
    for k in paths() {
        let (mut dw, mut db) = (std::boxed::Box::new([[0.0f32; O]; I]), [0.0f32; O]);
        weight_gradient_with(k, &x32, &dy32, &mut dw, &mut db);
        for (a, b) in dw.iter().flatten().zip(want.iter().flatten()) {
            assert!(
                (f64::from(*a) - b).abs() <= 1e-4 * (1.0 + b.abs()),
                "{R} × {I} → {O} on {}: {a} vs {b}",
                k.name()
            );
        }
    }
}

#[test]
fn f32_weight_gradients_agree_with_the_reference() {
    // The arrays of the 100 × 784 case need more than a test thread's stack.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            check_f32_weight_gradient::<100, 784, 50>();
            check_f32_weight_gradient::<37, 100, 49>();
            check_f32_weight_gradient::<5, 61, 18>();
            // The book network's second layer: narrower than a 16-wide tile.
            check_f32_weight_gradient::<100, 50, 10>();
            // SimpleConvNet's first affine layer: inputs larger than L2 (taken in chunks of
            // rows of dw) and a last tile of 4 outputs (100 = 96 + 4); and one of 3.
            check_f32_weight_gradient::<100, 4320, 100>();
            check_f32_weight_gradient::<7, 300, 35>();
        })
        .unwrap()
        .join()
        .unwrap();
}

/// A batch in which about eleven entries in twelve are zero, in runs, as in an image.
fn mostly_zeros<T: crate::Scalar, const R: usize, const I: usize>(seed: usize) -> [[T; I]; R] {
    core::array::from_fn(|r| {
        core::array::from_fn(|i| {
            let v = ((r * 131 + i * 7 + seed) % 97) as f64;
            if (i / 5 + r + seed).is_multiple_of(12) {
                T::from_f64(v / 97.0 - 0.3)
            } else {
                T::zero()
            }
        })
    })
}

/// `rows` rows without a single zero (on the heap: the larger test sizes would overflow the
/// test thread's stack).
fn no_zeros<T: crate::Scalar, const I: usize>(rows: usize) -> std::vec::Vec<[T; I]> {
    (0..rows)
        .map(|r| core::array::from_fn(|i| T::from_f64(2.0 + ((r * 31 + i * 17) as f64).sin())))
        .collect()
}

/// The zero-skipping forward pass gives the same bits as the dense kernels on every path:
/// skipping `0 · w` drops only exact zeros, and the other terms are added in the same order.
fn check_zero_skipping<T: crate::Scalar, const R: usize, const I: usize, const O: usize>() {
    let x = mostly_zeros::<T, R, I>(R + I + O);
    assert!(
        sparse::mostly_zero::<T, I, O, true, 16>(&x),
        "the test batch must take the zero-skipping path"
    );
    let w: [[T; O]; I] = fill::<I, O>(0.19).map(|r| r.map(T::from_f64));
    let bias: [T; O] = fill::<1, O>(0.41)[0].map(T::from_f64);
    for k in paths() {
        let (mut skipping, mut dense) = ([[T::zero(); O]; R], [[T::zero(); O]; R]);
        matmul_bias_with(k, &x, &w, &bias, &mut skipping);
        matmul_bias_rows_with(k, &x, &w, &bias, &mut dense, Density::Dense);
        assert!(
            skipping == dense,
            "{} rows × {I} → {O} on {}: zero-skipping differs from dense",
            R,
            k.name()
        );
        // Forced onto a batch without a single zero, the zero-skipping kernel still agrees.
        let full = no_zeros::<T, I>(R);
        matmul_bias_rows_with(k, &full, &w, &bias, &mut skipping, Density::Sparse);
        matmul_bias_rows_with(k, &full, &w, &bias, &mut dense, Density::Dense);
        assert!(
            skipping == dense,
            "dense batch forced sparse on {}",
            k.name()
        );
    }
}

#[test]
fn skipping_zero_inputs_gives_the_dense_kernels_bits() {
    // One row; fewer rows than a block; an odd number of rows (one row left after the pairs);
    // inputs over two spans of index lists plus a tail; outputs that fill no tile exactly.
    check_zero_skipping::<f32, 1, 784, 50>();
    check_zero_skipping::<f64, 1, 784, 50>();
    check_zero_skipping::<f32, 3, 37, 11>();
    check_zero_skipping::<f32, 7, 525, 37>();
    check_zero_skipping::<f64, 7, 525, 37>();
    check_zero_skipping::<f32, 100, 784, 50>();
    check_zero_skipping::<f32, 10, 64, 10>();
}

/// The zero-skipping weight gradient gives the same bits as the dense kernel on every path,
/// for the whole of `dw` and for a block of its rows starting past the first.
fn check_sparse_gradient<T: crate::Scalar, const R: usize, const I: usize, const O: usize>() {
    let x = mostly_zeros::<T, R, I>(R + 2 * I + O);
    assert!(
        sparse::sparse_enough::<T, I, O, true, 32>(&x, 0..I),
        "the test batch must take the zero-skipping path"
    );
    let dy: [[T; O]; R] = fill::<R, O>(0.23).map(|r| r.map(T::from_f64));
    for k in paths() {
        let mut skipping = std::boxed::Box::new([[T::zero(); O]; I]);
        let mut dense = std::boxed::Box::new([[T::one(); O]; I]);
        let mut db = [T::zero(); O];
        weight_gradient_with(k, &x, &dy, &mut skipping, &mut db);
        weight_gradient_rows_with(k, &x, &dy, &mut *dense, 0, Density::Dense);
        assert!(
            skipping == dense,
            "{R} rows × {I} → {O} on {}: zero-skipping dw differs from dense",
            k.name()
        );
        let first = I / 3;
        skipping.fill([T::one(); O]);
        weight_gradient_rows_with(k, &x, &dy, &mut skipping[first..], first, Density::Auto);
        assert!(
            skipping[first..] == dense[first..],
            "rows {first}.. of {R} × {I} → {O} on {}",
            k.name()
        );
        // Forced onto a batch without a single zero, the zero-skipping kernel still agrees.
        let full = no_zeros::<T, I>(R);
        weight_gradient_rows_with(k, &full, &dy, &mut *skipping, 0, Density::Sparse);
        weight_gradient_rows_with(k, &full, &dy, &mut *dense, 0, Density::Dense);
        assert!(
            skipping == dense,
            "dense batch forced sparse on {}",
            k.name()
        );
    }
}

#[test]
fn skipping_zero_inputs_gives_the_dense_weight_gradients_bits() {
    // One row; an odd number of rows; more rows than a block of masks (128), twice;
    // inputs over several spans of masks plus a tail; outputs that fill no tile exactly.
    check_sparse_gradient::<f32, 1, 784, 50>();
    check_sparse_gradient::<f64, 3, 37, 11>();
    check_sparse_gradient::<f32, 7, 525, 37>();
    check_sparse_gradient::<f64, 7, 525, 37>();
    check_sparse_gradient::<f32, 100, 784, 50>();
    check_sparse_gradient::<f32, 130, 70, 10>();
    check_sparse_gradient::<f64, 300, 131, 17>();
    check_sparse_gradient::<f32, 9, 100, 49>();
    check_sparse_gradient::<f32, 150, 61, 18>();
    check_sparse_gradient::<f32, 20, 300, 100>();
}

#[test]
fn zero_skipping_weight_gradient_agrees_with_reference_and_keeps_nan() {
    let x = mostly_zeros::<f64, 9, 301>(5);
    let dy: [[f64; 23]; 9] = fill(0.31);
    // dw = xᵀ · dy is the reference product of xᵀ (301 × 9) and dy.
    let xt: [[f64; 9]; 301] = core::array::from_fn(|i| core::array::from_fn(|r| x[r][i]));
    let want = reference(&xt, &dy);
    for k in paths() {
        let (mut dw, mut db) = ([[0.0; 23]; 301], [0.0; 23]);
        weight_gradient_with(k, &x, &dy, &mut dw, &mut db);
        close(&dw, &want, k, "zero-skipping weight_gradient");
        // A NaN input is not zero: it reaches every entry of its row of dw, and only those.
        let mut bad = x;
        bad[4][150] = f64::NAN;
        weight_gradient_with(k, &bad, &dy, &mut dw, &mut db);
        assert!(dw[150].iter().all(|v| v.is_nan()), "{}", k.name());
        assert!(
            dw[149].iter().chain(&dw[151]).all(|v| v.is_finite()),
            "{}",
            k.name()
        );
        // An empty batch has a zero gradient, whatever `dw` held.
        let none: [[f64; 301]; 0] = [];
        let nothing: [[f64; 23]; 0] = [];
        let mut stale = [[1.0; 23]; 301];
        weight_gradient_with(k, &none, &nothing, &mut stale, &mut db);
        assert!(stale.iter().flatten().all(|&v| v == 0.0), "{}", k.name());
    }
}

#[test]
fn zero_skipping_agrees_with_reference_and_keeps_nan() {
    let x = mostly_zeros::<f64, 9, 301>(3);
    let w: [[f64; 23]; 301] = fill(0.07);
    let want = reference(&x, &w);
    for k in paths() {
        let mut y = [[0.0; 23]; 9];
        matmul_bias_with(k, &x, &w, &[0.0; 23], &mut y);
        close(&y, &want, k, "zero-skipping matmul_bias");
        // A NaN input is not zero: it reaches every output of its row, and only those.
        let mut bad = x;
        bad[4][150] = f64::NAN;
        matmul_bias_with(k, &bad, &w, &[0.0; 23], &mut y);
        assert!(y[4].iter().all(|v| v.is_nan()), "{}", k.name());
        assert!(
            y[3].iter().chain(&y[5]).all(|v| v.is_finite()),
            "{}",
            k.name()
        );
    }
}

#[test]
fn index_lists_name_exactly_the_nonzero_entries() {
    let mut idx = [0u16; sparse::SPAN + 8];
    let x: [f32; 203] = core::array::from_fn(|i| {
        if i.is_multiple_of(3) || i > 197 {
            1.0
        } else {
            0.0
        }
    });
    let n = sparse::nonzero_offsets(&x, &mut idx);
    let want: std::vec::Vec<u16> = (0..203u16)
        .filter(|i| i.is_multiple_of(3) || *i > 197)
        .collect();
    assert_eq!(&idx[..n], &want[..]);
    let all = [2.0f64; 300];
    assert_eq!(
        sparse::nonzero_offsets(&all, &mut idx),
        sparse::SPAN,
        "at most one span"
    );
    assert_eq!(sparse::nonzero_offsets(&[0.0f32; 40], &mut idx), 0);
}

/// One batch of the two-thread tests: `rows` samples of 784 inputs, every `sparsity`-th
/// input nonzero on average (1: dense).
#[cfg(feature = "parallel")]
fn split_batch(rows: usize, sparsity: usize) -> (Vec<[f32; 784]>, Vec<[f32; 50]>) {
    let x = (0..rows)
        .map(|r| {
            core::array::from_fn(|i| match (r * 7 + i * 3) % 17 {
                v if (r + i * 5) % sparsity == 0 => (v + 1) as f32 / 17.0,
                _ => 0.0,
            })
        })
        .collect();
    let dy = (0..rows)
        .map(|r| core::array::from_fn(|o| ((r + o * 11) % 7) as f32 / 70.0 - 0.05))
        .collect();
    (x, dy)
}

/// Layer 1 of the book's network on `x`, forward and weight gradient, on `kernel` in a pool
/// of `threads`, inside [`keep_awake`](crate::parallel::keep_awake) or not.
#[cfg(feature = "parallel")]
#[allow(clippy::type_complexity)]
fn layer1_on(
    kernel: Kernel,
    threads: usize,
    awake: bool,
    x: &[[f32; 784]],
    dy: &[[f32; 50]],
) -> (Vec<[f32; 50]>, Box<[[f32; 50]; 784]>, [f32; 50], bool) {
    let w: Box<[[f32; 50]; 784]> = Box::new(core::array::from_fn(|i| {
        core::array::from_fn(|o| ((i * 5 + o) % 13) as f32 / 130.0 - 0.05)
    }));
    let body = || {
        let mut y = vec![[0.0f32; 50]; x.len()];
        matmul_bias_with(kernel, x, &w, &[0.1; 50], &mut y);
        let (mut dw, mut db) = (Box::new([[0.0f32; 50]; 784]), [0.0; 50]);
        weight_gradient_with(kernel, x, dy, &mut dw, &mut db);
        let split = parallel::plan(x.len() * 784 * 50, || false).1;
        (y, dw, db, split)
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| match awake {
        true => crate::parallel::keep_awake(body),
        false => body(),
    })
}

#[cfg(feature = "parallel")]
#[test]
fn two_threads_give_bit_identical_results() {
    // (rows, one input in `sparsity` nonzero, inside keep_awake): a large dense batch splits
    // anywhere; the book's batch of 100, dense or mostly zero, splits inside keep_awake.
    for (rows, sparsity, awake) in [
        (400, 1, false),
        (100, 1, true),
        (100, 5, true),
        (37, 3, true),
    ] {
        let (x, dy) = split_batch(rows, sparsity);
        let sparse = sparse::mostly_zero::<f32, 784, 50, true, 16>(&x);
        assert_eq!(
            sparse,
            sparsity > 1,
            "the batch must take the kernel it is meant to"
        );
        for k in paths() {
            let one = layer1_on(k, 1, awake, &x, &dy);
            let two = layer1_on(k, 2, awake, &x, &dy);
            // Otherwise this would compare one thread with itself.
            assert!(
                two.3 && !one.3,
                "{rows} rows must split on two threads only"
            );
            assert!(
                one.0 == two.0 && one.1 == two.1 && one.2 == two.2,
                "{} rows={rows} sparsity={sparsity} on {}",
                rows,
                k.name()
            );
        }
    }
}

#[test]
fn every_kernel_scales_bytes_to_the_same_values() {
    let src: [u8; 803] = core::array::from_fn(|i| (i * 37 % 256) as u8);
    for k in paths() {
        let (mut a, mut b) = ([0.0f32; 803], [0.0f64; 803]);
        scale_bytes_with(k, &src, &mut a, 1.0 / 255.0);
        scale_bytes_with(k, &src, &mut b, 1.0 / 255.0);
        for (i, &s) in src.iter().enumerate() {
            assert_eq!(
                a[i].to_bits(),
                (f32::from(s) * (1.0 / 255.0)).to_bits(),
                "{}",
                k.name()
            );
            assert_eq!(
                b[i].to_bits(),
                (f64::from(s) * (1.0 / 255.0)).to_bits(),
                "{}",
                k.name()
            );
        }
    }
}

/// `n` rows of 784 inputs, `percent` of each row nonzero (ones), spread over the row.
fn spread<T: crate::Scalar>(n: usize, percent: usize) -> std::vec::Vec<[T; 784]> {
    (0..n)
        .map(|r| {
            core::array::from_fn(|i| T::from_f64(f64::from(u8::from((i * 37 + r) % 100 < percent))))
        })
        .collect()
}

/// A few rows skip zeros up to two thirds nonzero; a batch only up to `O / (O + 46)` where
/// the forward pass copies the weights to aligned rows (`f32` on the SIMD paths, 50
/// outputs), `O / (O + 60)` where it reads them in place.
#[test]
fn few_rows_skip_zeros_when_denser() {
    fn skips<T: crate::Scalar, const O: usize, const FUSED: bool, const W: usize>(
        rows: usize,
        percent: usize,
    ) -> bool {
        sparse::mostly_zero::<T, 784, O, FUSED, W>(&spread::<T>(rows, percent))
    }
    assert!(skips::<f32, 50, true, 16>(1, 60));
    assert!(skips::<f32, 50, true, 16>(3, 66));
    assert!(!skips::<f32, 50, true, 16>(1, 68));
    assert!(!skips::<f32, 50, true, 16>(4, 60));
    // 50 / 96 with aligned rows.
    assert!(skips::<f32, 50, true, 16>(100, 51));
    assert!(!skips::<f32, 50, true, 16>(100, 54));
    // 50 / 110 in place: `f64`, the portable path, and rows of whole vectors (48 / 108).
    assert!(skips::<f64, 50, true, 8>(100, 44));
    assert!(!skips::<f64, 50, true, 8>(100, 47));
    assert!(!skips::<f32, 50, false, 8>(100, 47));
    assert!(skips::<f32, 48, true, 16>(100, 43));
    assert!(!skips::<f32, 48, true, 16>(100, 46));
}

/// The weight gradient skips zeros up to 7/12 nonzero where it copies the rows of `dy` to
/// aligned rows (`f32` on the SIMD paths, rows of 50 outputs), up to half elsewhere, and up to
/// half of those on 32-wide tiles.
#[test]
fn weight_gradient_skips_zeros_up_to_seven_twelfths_with_aligned_rows() {
    // Whether a batch of 100 rows, `percent` nonzero, skips zeros in `O` outputs' gradient.
    fn skips<T: crate::Scalar, const O: usize, const FUSED: bool, const W: usize>(
        percent: usize,
    ) -> bool {
        sparse::sparse_enough::<T, 784, O, FUSED, W>(&spread::<T>(100, percent), 0..784)
    }
    assert!(skips::<f32, 50, true, 16>(55));
    assert!(!skips::<f32, 50, true, 16>(60));
    // Rows of 10 are too short to pay for the copy, rows of 48 whole vectors already: half.
    assert!(skips::<f32, 10, true, 16>(49));
    assert!(!skips::<f32, 10, true, 16>(55));
    assert!(skips::<f32, 48, true, 16>(49));
    assert!(!skips::<f32, 48, true, 16>(55));
    // `f64` and the portable path keep rows where they are.
    assert!(!skips::<f64, 50, true, 8>(55));
    assert!(!skips::<f32, 50, false, 8>(55));
    // 32-wide tiles: 7/24.
    assert!(skips::<f32, 50, true, 32>(28));
    assert!(!skips::<f32, 50, true, 32>(31));
}

/// A batch of 32 rows or more is judged from every fourth row; a smaller one from all.
#[test]
fn large_batches_are_judged_from_every_fourth_row() {
    // Rows 0, 4, 8, … all zero, the others all nonzero: 3/4 nonzero in all.
    let rows = |n: usize| -> std::vec::Vec<[f32; 784]> {
        (0..n)
            .map(|r| [f32::from(u8::from(r % 4 != 0)); 784])
            .collect()
    };
    assert!(!sparse::mostly_zero::<f32, 784, 50, true, 16>(&rows(31)));
    assert!(sparse::mostly_zero::<f32, 784, 50, true, 16>(&rows(32)));
    assert!(!sparse::sparse_enough::<f32, 784, 50, true, 16>(
        &rows(31),
        0..784
    ));
    assert!(sparse::sparse_enough::<f32, 784, 50, true, 16>(
        &rows(32),
        0..784
    ));
    // Whichever kernel a batch takes, the bits are the same.
    let x = rows(32);
    let w = [[0.25f32; 50]; 784];
    let (mut auto, mut dense) = ([[0.0f32; 50]; 32], [[0.0f32; 50]; 32]);
    for k in paths() {
        matmul_bias_rows_with(k, &x, &w, &[0.5; 50], &mut auto, Density::Auto);
        matmul_bias_rows_with(k, &x, &w, &[0.5; 50], &mut dense, Density::Dense);
        assert_eq!(auto, dense, "{}", k.name());
    }
}

/// The 2×2, stride-2 backward pass (one select per input) on every kernel against the
/// book's rule, window by window: the gradient goes to the first input, in reading order,
/// equal to the maximum. The inputs have ties (zeros, as after a ReLU, and repeated values)
/// and NaNs, which are their window's maximum.
#[test]
fn max_pool_backward_routes_each_gradient_to_the_first_maximum() {
    const H: usize = 6;
    const W: usize = 10;
    let g = Geometry {
        channels: 2,
        height: H,
        width: W,
        window: 2,
        stride: 2,
        pad: 0,
        out_height: H / 2,
        out_width: W / 2,
    };
    let mut x = [[0.0f32; W]; 2 * H];
    for (r, row) in x.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            *v = match (r * 7 + c * 3) % 11 {
                0 => f32::NAN,
                k if k < 5 => 0.0,
                k => (k % 3) as f32,
            };
        }
    }
    let dy: [[f32; W / 2]; H] =
        core::array::from_fn(|r| core::array::from_fn(|c| (r * 10 + c + 1) as f32));
    for k in paths() {
        let mut y = [[0.0f32; W / 2]; H];
        max_pool_with(k, &g, &x, &mut y);
        let mut dx = [[-1.0f32; W]; 2 * H];
        max_pool_backward_with(k, &g, &x, &y, &dy, &mut dx);
        for (oy, (yrow, drow)) in y.iter().zip(&dy).enumerate() {
            for ox in 0..W / 2 {
                let cells = [(0, 0), (0, 1), (1, 0), (1, 1)].map(|(r, c)| (2 * oy + r, 2 * ox + c));
                let max = yrow[ox];
                let first = cells.iter().position(|&(r, c)| {
                    let v = x[r][c];
                    v == max || (v.is_nan() && max.is_nan())
                });
                assert!(
                    first.is_some(),
                    "{}: window ({oy}, {ox}) has no maximum",
                    k.name()
                );
                for (i, &(r, c)) in cells.iter().enumerate() {
                    let expected = if Some(i) == first { drow[ox] } else { 0.0 };
                    assert_eq!(dx[r][c], expected, "{}: input ({r}, {c})", k.name());
                }
            }
        }
    }
}
