//! The dense linear algebra behind [`Affine`](crate::Affine), on row-major batches.
//!
//! Each kernel takes a batch as a slice of fixed-size rows (`&[[T; I]]`), so every inner
//! dimension is a compile-time constant and the loops vectorise without bounds checks.
//! Loop orders are chosen so the innermost loop runs over contiguous memory with
//! independent accumulators: no kernel depends on fast-math reassociation, so results are
//! identical from run to run and between host and target.

use crate::Scalar;

/// Number of batch rows processed together, so each weight row is loaded once per block.
const ROW_BLOCK: usize = 4;
/// Independent partial sums in a dot product (lets the compiler use vector lanes).
const LANES: usize = 8;

/// `y[r] = bias + x[r] · w` for every row `r`, with `w` stored (in, out).
///
/// ```
/// let x = [[1.0f32, 2.0]];
/// let w = [[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]];
/// let mut y = [[0.0; 3]];
/// typenet::kernels::matmul_bias(&x, &w, &[0.5, 0.5, 0.5], &mut y);
/// assert_eq!(y, [[1.5, 2.5, 8.5]]);
/// ```
pub fn matmul_bias<T: Scalar, const I: usize, const O: usize>(
    x: &[[T; I]],
    w: &[[T; O]; I],
    bias: &[T; O],
    y: &mut [[T; O]],
) {
    let rows = x.len().min(y.len());
    let (x, y) = (&x[..rows], &mut y[..rows]);
    let mut xb = x.chunks_exact(ROW_BLOCK);
    let mut yb = y.chunks_exact_mut(ROW_BLOCK);
    for (xs, ys) in (&mut xb).zip(&mut yb) {
        let mut acc = [*bias; ROW_BLOCK];
        for (i, wi) in w.iter().enumerate() {
            let xv = [xs[0][i], xs[1][i], xs[2][i], xs[3][i]];
            for (a, &xr) in acc.iter_mut().zip(xv.iter()) {
                for (ao, &wo) in a.iter_mut().zip(wi.iter()) {
                    *ao = *ao + xr * wo;
                }
            }
        }
        ys.copy_from_slice(&acc);
    }
    for (xr, yr) in xb.remainder().iter().zip(yb.into_remainder()) {
        let mut acc = *bias;
        for (&xi, wi) in xr.iter().zip(w.iter()) {
            for (ao, &wo) in acc.iter_mut().zip(wi.iter()) {
                *ao = *ao + xi * wo;
            }
        }
        *yr = acc;
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
pub fn matmul_transposed<T: Scalar, const I: usize, const O: usize>(
    dy: &[[T; O]],
    w: &[[T; O]; I],
    dx: &mut [[T; I]],
) {
    for (dyr, dxr) in dy.iter().zip(dx.iter_mut()) {
        for (dxi, wi) in dxr.iter_mut().zip(w.iter()) {
            *dxi = dot(dyr, wi);
        }
    }
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
pub fn weight_gradient<T: Scalar, const I: usize, const O: usize>(
    x: &[[T; I]],
    dy: &[[T; O]],
    dw: &mut [[T; O]; I],
    db: &mut [T; O],
) {
    let rows = x.len().min(dy.len());
    let (x, dy) = (&x[..rows], &dy[..rows]);
    for (i, dwi) in dw.iter_mut().enumerate() {
        let mut acc = [T::zero(); O];
        for (xr, dyr) in x.iter().zip(dy.iter()) {
            let xi = xr[i];
            for (a, &d) in acc.iter_mut().zip(dyr.iter()) {
                *a = *a + xi * d;
            }
        }
        *dwi = acc;
    }
    let mut acc = [T::zero(); O];
    for dyr in dy {
        for (a, &d) in acc.iter_mut().zip(dyr.iter()) {
            *a = *a + d;
        }
    }
    *db = acc;
}

/// Dot product with [`LANES`] independent partial sums, added in a fixed order.
#[inline]
fn dot<T: Scalar>(a: &[T], b: &[T]) -> T {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [T::zero(); LANES];
    let mut ac = a.chunks_exact(LANES);
    let mut bc = b.chunks_exact(LANES);
    for (x, y) in (&mut ac).zip(&mut bc) {
        for k in 0..LANES {
            acc[k] = acc[k] + x[k] * y[k];
        }
    }
    let mut tail = T::zero();
    for (&x, &y) in ac.remainder().iter().zip(bc.remainder()) {
        tail = tail + x * y;
    }
    acc.iter().fold(T::zero(), |s, &v| s + v) + tail
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn odd_sizes_agree_with_reference() {
        // 7 rows (one full block of 4 plus a remainder), 13 inputs, 11 outputs (not lane multiples).
        let x: [[f64; 13]; 7] = fill(0.37);
        let w: [[f64; 11]; 13] = fill(0.11);
        let mut y = [[0.0; 11]; 7];
        matmul_bias(&x, &w, &[0.0; 11], &mut y);
        let want = reference(&x, &w);
        for (a, b) in y.iter().flatten().zip(want.iter().flatten()) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        // dx = y · wᵀ against the reference with w transposed.
        let mut wt = [[0.0; 13]; 11];
        for i in 0..13 {
            for o in 0..11 {
                wt[o][i] = w[i][o];
            }
        }
        let mut dx = [[0.0; 13]; 7];
        matmul_transposed(&y, &w, &mut dx);
        let want = reference(&y, &wt);
        for (a, b) in dx.iter().flatten().zip(want.iter().flatten()) {
            assert!((a - b).abs() < 1e-10, "{a} vs {b}");
        }
    }
}
