//! Max pooling over the planes of one sample.

use super::conv::Geometry;
use crate::Scalar;

/// `v` if it beats the best value so far `m`: larger, or NaN (so that a NaN input reaches
/// the output). Ties keep `m`, the first.
#[inline(always)]
fn pick<T: Scalar>(v: T, m: T) -> T {
    #[allow(clippy::eq_op)] // `v != v` is the NaN test that vectorises
    if v > m || v != v {
        v
    } else {
        m
    }
}

/// Whether input `v` is its window's maximum `y`. Bitwise `&` and `|`, not `&&` and `||`,
/// so that loops over it need not branch.
#[inline(always)]
fn is_max<T: Scalar>(v: T, y: T) -> bool {
    #[allow(clippy::eq_op)]
    let both_nan = (v != v) & (y != y);
    (v == y) | both_nan
}

/// `y` = the maximum of each window of `x`: rows of `I` inputs (`channels · height` of
/// them), rows of `O` outputs (`channels · out_height`). The maximum down each column of a
/// window's rows first (contiguous, so it vectorises), then across each window.
#[inline(always)]
pub(super) fn max_pool_body<
    T: Scalar,
    const I: usize,
    const O: usize,
    const FUSED: bool,
    const R: usize,
    const W: usize,
>(
    g: &Geometry,
    x: &[[T; I]],
    y: &mut [[T; O]],
) {
    let (p, s) = (g.window, g.stride);
    let planes = x
        .chunks_exact(g.height)
        .zip(y.chunks_exact_mut(g.out_height));
    for (xplane, yplane) in planes {
        for (oy, yrow) in yplane.iter_mut().enumerate() {
            let rows = xplane.get(oy * s..oy * s + p).unwrap_or(&[]);
            let Some((first, rest)) = rows.split_first() else {
                continue;
            };
            let mut column = *first;
            for row in rest {
                for (m, &v) in column.iter_mut().zip(row) {
                    *m = pick(v, *m);
                }
            }
            if p == 2 && s == 2 {
                let (pairs, _) = column.as_chunks::<2>();
                for (o, &[a, b]) in yrow.iter_mut().zip(pairs) {
                    *o = pick(b, a);
                }
                continue;
            }
            for (ox, o) in yrow.iter_mut().enumerate() {
                let window = column.get(ox * s..ox * s + p).unwrap_or(&[]);
                if let Some((&first, rest)) = window.split_first() {
                    *o = rest.iter().fold(first, |m, &v| pick(v, m));
                }
            }
        }
    }
}

/// The input gradient of [`max_pool_body`]: each window's gradient goes to the first of its
/// inputs, in reading order, that equals its output (the book's `argmax`); overlapping
/// windows add up.
#[inline(always)]
pub(super) fn max_pool_backward_body<
    T: Scalar,
    const I: usize,
    const O: usize,
    const FUSED: bool,
    const R: usize,
    const W: usize,
>(
    g: &Geometry,
    x: &[[T; I]],
    y: &[[T; O]],
    dy: &[[T; O]],
    dx: &mut [[T; I]],
) {
    let (p, s) = (g.window, g.stride);
    if p == 2 && s == 2 && g.width == 2 * O {
        // Every input is written once.
        for ((xplane, dxplane), (yplane, dplane)) in x
            .chunks_exact(g.height)
            .zip(dx.chunks_exact_mut(g.height))
            .zip(
                y.chunks_exact(g.out_height)
                    .zip(dy.chunks_exact(g.out_height)),
            )
        {
            pairs_backward(xplane, yplane, dplane, dxplane);
        }
        return;
    }
    for row in dx.iter_mut() {
        *row = [T::zero(); I];
    }
    let planes = x
        .chunks_exact(g.height)
        .zip(dx.chunks_exact_mut(g.height))
        .zip(
            y.chunks_exact(g.out_height)
                .zip(dy.chunks_exact(g.out_height)),
        );
    for ((xplane, dxplane), (yplane, dplane)) in planes {
        for (oy, (yrow, drow)) in yplane.iter().zip(dplane).enumerate() {
            let mut open = [true; O];
            for r in 0..p {
                let iy = oy * s + r;
                let (Some(xrow), Some(dxrow)) = (xplane.get(iy), dxplane.get_mut(iy)) else {
                    continue;
                };
                for c in 0..p {
                    let cells = open.iter_mut().zip(yrow).zip(drow).enumerate();
                    for (ox, ((open, &y), &d)) in cells {
                        let ix = ox * s + c;
                        if let (Some(&v), Some(g)) = (xrow.get(ix), dxrow.get_mut(ix)) {
                            if *open && is_max(v, y) {
                                *g = *g + d;
                                *open = false;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// [`max_pool_backward_body`] for 2×2 windows every 2 pixels: each input is in one window,
/// so each is written once.
///
/// A row of windows at a time, in four arrays (the windows' top-left, top-right,
/// bottom-left and bottom-right inputs), so that every step is a loop over contiguous
/// values with selects, no branch: the gradient still to give goes to each corner in reading
/// order, and the first corner equal to the maximum takes it. Written per window with
/// `&&`, LLVM kept a branch per input, mispredicted on the ties of zeros after a ReLU:
/// SimpleConvNet's batch of 100 took 3.7 ms on a Zen 3 core, and takes about a third of that
/// this way.
#[inline(always)]
fn pairs_backward<T: Scalar, const I: usize, const O: usize>(
    x: &[[T; I]],
    y: &[[T; O]],
    dy: &[[T; O]],
    dx: &mut [[T; I]],
) {
    if 2 * O > I {
        return;
    }
    let (x_pairs, _) = x.as_chunks::<2>();
    let (dx_pairs, _) = dx.as_chunks_mut::<2>();
    let zero = T::zero();
    for (((x, dx), yrow), drow) in x_pairs.iter().zip(dx_pairs).zip(y).zip(dy) {
        let [top, bottom] = x;
        let mut corners = [[zero; O]; 4];
        for ox in 0..O {
            corners[0][ox] = top[2 * ox];
            corners[1][ox] = top[2 * ox + 1];
            corners[2][ox] = bottom[2 * ox];
            corners[3][ox] = bottom[2 * ox + 1];
        }
        let mut left = *drow;
        for corner in corners.iter_mut() {
            for ((v, &y), g) in corner.iter_mut().zip(yrow).zip(left.iter_mut()) {
                let first = is_max(*v, y);
                *v = if first { *g } else { zero };
                *g = if first { zero } else { *g };
            }
        }
        let [dtop, dbottom] = dx;
        for ox in 0..O {
            dtop[2 * ox] = corners[0][ox];
            dtop[2 * ox + 1] = corners[1][ox];
            dbottom[2 * ox] = corners[2][ox];
            dbottom[2 * ox + 1] = corners[3][ox];
        }
    }
}
