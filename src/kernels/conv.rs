//! Convolution as matrix products on the packed GEMM core, without an im2col buffer.
//!
//! For one sample, with `PATCH = C_IN·K·K` and `PIXELS = OH·OW`, the convolution is
//! `y[co][pix] = b[co] + Σ_p w[co][p] · col[p][pix]`, where `col[p][pix]` is the input value
//! under weight `p` of the kernel placed at output pixel `pix` (zero in the padding). The
//! GEMM core asks for its right-hand matrix one panel at a time, so the panels are filled
//! straight from the image: `col` is never stored. The weight gradient is the product the
//! other way round, `dw[co][p] += Σ_pix dy[co][pix] · col[p][pix]`, with the panels filled
//! from the image transposed.

use super::gemm::{gemm_body, Start, KC};
use super::short;
use crate::Scalar;

/// The sizes of a 2-D convolution or pooling window over one channel-first sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Input channels.
    pub channels: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Window (kernel) side.
    pub window: usize,
    /// Step between windows.
    pub stride: usize,
    /// Zeros added on each side of the input.
    pub pad: usize,
    /// Output height: `(height + 2·pad − window) / stride + 1`.
    pub out_height: usize,
    /// Output width.
    pub out_width: usize,
}

impl Geometry {
    /// The output side for an input side of `n` (`None` if the window does not fit).
    pub const fn output_side(n: usize, window: usize, stride: usize, pad: usize) -> Option<usize> {
        if stride == 0 || window == 0 || n + 2 * pad < window {
            None
        } else {
            Some((n + 2 * pad - window) / stride + 1)
        }
    }

    /// Values in one input plane.
    const fn plane(&self) -> usize {
        self.height * self.width
    }

    /// The input row under kernel row `ky` at output row `oy`, if it is not padding.
    #[inline(always)]
    fn input_row(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.stride + ky)
            .checked_sub(self.pad)
            .filter(|&iy| iy < self.height)
    }

    /// `dst[j] = col[(ci, ky, kx)][oy, ox0 + j]`: one run of a kernel weight's inputs along
    /// an output row (the caller keeps `ox0 + dst.len() ≤ out_width`).
    #[inline(always)]
    fn gather_run<T: Scalar>(
        &self,
        x: &[T],
        (ci, ky, kx): (usize, usize, usize),
        oy: usize,
        ox0: usize,
        dst: &mut [T],
    ) {
        if self.pad == 0 && self.stride == 1 {
            // No padding: the run is a contiguous part of one input row.
            let start = (ci * self.height + oy + ky) * self.width + ox0 + kx;
            match x.get(start..start + dst.len()) {
                Some(src) => short::copy(dst, src),
                None => short::fill(dst, T::zero()),
            }
            return;
        }
        let Some(iy) = self.input_row(oy, ky) else {
            short::fill(dst, T::zero());
            return;
        };
        let row = x
            .get((ci * self.height + iy) * self.width..)
            .and_then(|r| r.get(..self.width))
            .unwrap_or(&[]);
        if self.stride == 1 {
            // Input column of output column ox0 + j is ox0 + j + kx − pad: one contiguous run
            // between the zeros of the left and right padding.
            let first = (ox0 + kx) as isize - self.pad as isize;
            let lo = (-first).clamp(0, dst.len() as isize) as usize;
            let hi = (row.len() as isize - first).clamp(lo as isize, dst.len() as isize) as usize;
            let (left, rest) = dst.split_at_mut(lo);
            let (mid, right) = rest.split_at_mut(hi - lo);
            short::fill(left, T::zero());
            short::fill(right, T::zero());
            let start = (first + lo as isize) as usize;
            match row.get(start..start + mid.len()) {
                Some(src) => short::copy(mid, src),
                None => short::fill(mid, T::zero()),
            }
            return;
        }
        for (j, d) in dst.iter_mut().enumerate() {
            let ix = ((ox0 + j) * self.stride + kx).checked_sub(self.pad);
            *d = ix.and_then(|ix| row.get(ix)).copied().unwrap_or(T::zero());
        }
    }

    /// The kernel weight `p` as (channel, row, column).
    #[inline(always)]
    fn weight_position(&self, p: usize) -> (usize, usize, usize) {
        let kk = self.window * self.window;
        (p / kk, p % kk / self.window, p % self.window)
    }

    /// Fills `dst` with `col[p][first..first + dst.len()]` (pixels in order, across rows).
    #[inline(always)]
    fn gather_pixels<T: Scalar>(&self, x: &[T], p: usize, first: usize, dst: &mut [T]) {
        let at = self.weight_position(p);
        let (mut oy, mut ox) = (first / self.out_width, first % self.out_width);
        let mut dst = dst;
        while !dst.is_empty() && oy < self.out_height {
            let n = dst.len().min(self.out_width - ox);
            let (run, rest) = dst.split_at_mut(n);
            self.gather_run(x, at, oy, ox, run);
            dst = rest;
            (oy, ox) = (oy + 1, 0);
        }
        short::fill(dst, T::zero());
    }

    /// `dx[ci][iy][ix] += Σ dcol[p][pix]` over the (weight, pixel) pairs that read input
    /// `(ci, iy, ix)`: the adjoint of the gather.
    #[inline(always)]
    pub(super) fn scatter<T: Scalar>(&self, dcol: &[T], pixels: usize, dx: &mut [T]) {
        for (p, drow) in dcol.chunks_exact(pixels.max(1)).enumerate() {
            let (ci, ky, kx) = self.weight_position(p);
            // One output row at a time: the input row it reads, then its columns.
            for (oy, dout) in drow.chunks(self.out_width.max(1)).enumerate() {
                let Some(iy) = self.input_row(oy, ky) else {
                    continue;
                };
                let Some(row) = dx
                    .get_mut(ci * self.plane() + iy * self.width..)
                    .and_then(|r| r.get_mut(..self.width))
                else {
                    continue;
                };
                for (ox, &d) in dout.iter().enumerate() {
                    let ix = (ox * self.stride + kx).checked_sub(self.pad);
                    if let Some(v) = ix.and_then(|ix| row.get_mut(ix)) {
                        *v = *v + d;
                    }
                }
            }
        }
    }
}

/// `y[co] += w[co] · col` for one sample `x` (`C_IN·H·W` values); `y` holds one row of
/// `PIXELS` per output channel, already set to the bias.
#[inline(always)]
pub(super) fn conv_forward_body<
    T: Scalar,
    const PATCH: usize,
    const PIXELS: usize,
    const FUSED: bool,
    const R: usize,
    const W: usize,
>(
    g: &Geometry,
    x: &[T],
    w: &[[T; PATCH]],
    y: &mut [[T; PIXELS]],
) {
    // Panel row k holds col[k0 + k][pix0..pix0 + n], zero-padded to `width`.
    gemm_body::<T, PATCH, PIXELS, FUSED, R, W>(w, y, Start::Y, |panel, width, k0, pix0, n| {
        for (k, row) in panel.chunks_exact_mut(width).enumerate() {
            let (live, pad) = row.split_at_mut(n.min(width));
            g.gather_pixels(x, k0 + k, pix0, live);
            short::fill(pad, T::zero());
        }
    });
}

/// `dw[co] += dy[co] · colᵀ` for one sample `x`: the weight gradient, accumulated.
#[inline(always)]
pub(super) fn conv_weight_gradient_body<
    T: Scalar,
    const PIXELS: usize,
    const PATCH: usize,
    const FUSED: bool,
    const R: usize,
    const W: usize,
>(
    g: &Geometry,
    x: &[T],
    dy: &[[T; PIXELS]],
    dw: &mut [[T; PATCH]],
) {
    // Panel row k holds colᵀ[k0 + k][p0..p0 + n]: the patch of pixel k0 + k. It is filled a
    // column (kernel weight) at a time: that weight's inputs over the chunk's pixels are runs
    // along output rows, as in the forward pass, where a pixel's patch is runs of one kernel
    // row. SimpleConvNet's conv1 (5×5 kernel, 24×24 outputs, batch 100, Zen 3): 600 runs
    // of 24 values per sample instead of 3,456 of about 4, and the weight gradient
    // 3.3 → 2.8 ms.
    gemm_body::<T, PIXELS, PATCH, FUSED, R, W>(dy, dw, Start::Y, |panel, width, k0, p0, n| {
        let mut column = [T::zero(); KC];
        let rows = panel.len() / width.max(1);
        for j in 0..n.min(width) {
            let column = &mut column[..rows.min(KC)];
            g.gather_pixels(x, p0 + j, k0, column);
            for (row, &v) in panel.chunks_exact_mut(width).zip(column.iter()) {
                if let Some(dst) = row.get_mut(j) {
                    *dst = v;
                }
            }
        }
        for row in panel.chunks_exact_mut(width) {
            short::fill(row.get_mut(n..).unwrap_or(&mut []), T::zero());
        }
    });
}
