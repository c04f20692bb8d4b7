//! The 2-D convolution layer (chapter 7).

use crate::kernels::{self, Geometry};
use crate::layer::{Layer, Mode, ParamSpec, Role};
use crate::{bytes, Scalar};

/// 2-D convolution of `C_IN`-channel `H`×`W` images by `C_OUT` square `K`×`K` kernels, with a
/// stride and zero padding: the book's `Convolution`, and PyTorch's `Conv2d`.
///
/// In `network!` it is written `Conv2d<C_IN, C_OUT, K>` or `Conv2d<C_IN, C_OUT, K, STRIDE,
/// PAD>` after an `Input<C, H, W>`; the macro works out the other sizes and checks them
/// (the output side is `(H + 2·PAD − K) / STRIDE + 1`, and must come out exact). Written by
/// hand, the type takes every size: `OH`, `OW` the output sides, `PATCH = C_IN·K·K` and
/// `PIXELS = OH·OW`; sizes that do not agree fail to compile.
///
/// Weights are `w[c_out][c_in][ky][kx]` (PyTorch's layout) and `b` has one bias per output
/// channel. A sample goes in as `[[[T; W]; H]; C_IN]` and comes out as `[[[T; OW]; OH];
/// C_OUT]`, channels first.
///
/// ```
/// use typenet::layer::{Layer, Mode};
/// use typenet::Conv2d;
/// // One 3×3 image, one 2×2 kernel: 2×2 outputs.
/// type C = Conv2d<f64, 1, 1, 2, 1, 0, 3, 3, 2, 2, 4, 4>;
/// let conv = C { w: [[[[1.0, 0.0], [0.0, 1.0]]]], b: [0.5] };
/// let x = [[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]];
/// let mut y = [[[[0.0; 2]; 2]]];
/// conv.forward(&x, &mut y, Mode::Infer);
/// assert_eq!(y, [[[[6.5, 8.5], [12.5, 14.5]]]]); // x[i][j] + x[i+1][j+1] + 0.5
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv2d<
    T,
    const C_IN: usize,
    const C_OUT: usize,
    const K: usize,
    const STRIDE: usize,
    const PAD: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const PATCH: usize,
    const PIXELS: usize,
> {
    /// Kernels, `w[c_out][c_in][ky][kx]`.
    pub w: [[[[T; K]; K]; C_IN]; C_OUT],
    /// Biases, one per output channel.
    pub b: [T; C_OUT],
}

impl<
        T: Scalar,
        const C_IN: usize,
        const C_OUT: usize,
        const K: usize,
        const STRIDE: usize,
        const PAD: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
        const PATCH: usize,
        const PIXELS: usize,
    > Conv2d<T, C_IN, C_OUT, K, STRIDE, PAD, H, W, OH, OW, PATCH, PIXELS>
{
    /// The sizes, checked when the type is used: a type whose sizes disagree does not
    /// compile.
    pub const GEOMETRY: Geometry = {
        assert!(
            C_IN > 0 && C_OUT > 0 && K > 0 && STRIDE > 0,
            "Conv2d: every size must be at least one"
        );
        assert!(
            H + 2 * PAD >= K,
            "Conv2d: the kernel is larger than its padded input"
        );
        assert!(
            (H + 2 * PAD - K).is_multiple_of(STRIDE) && (W + 2 * PAD - K).is_multiple_of(STRIDE),
            "Conv2d: the stride does not tile the padded input"
        );
        assert!(
            matches!(Geometry::output_side(H, K, STRIDE, PAD), Some(n) if n == OH)
                && matches!(Geometry::output_side(W, K, STRIDE, PAD), Some(n) if n == OW),
            "Conv2d: OH and OW must be (H + 2·PAD − K) / STRIDE + 1"
        );
        assert!(
            PATCH == C_IN * K * K && PIXELS == OH * OW,
            "Conv2d: PATCH must be C_IN·K·K and PIXELS OH·OW"
        );
        Geometry {
            channels: C_IN,
            height: H,
            width: W,
            window: K,
            stride: STRIDE,
            pad: PAD,
            out_height: OH,
            out_width: OW,
        }
    };

    /// A layer with every weight and bias zero.
    pub fn zeros() -> Self {
        Conv2d {
            w: [[[[T::zero(); K]; K]; C_IN]; C_OUT],
            b: [T::zero(); C_OUT],
        }
    }

    /// The kernels as one row of `PATCH` weights per output channel.
    #[inline]
    pub fn weight_rows(&self) -> &[[T; PATCH]] {
        self.w
            .as_flattened()
            .as_flattened()
            .as_flattened()
            .as_chunks::<PATCH>()
            .0
    }
}

/// One sample's outputs (or their gradients) as a row of `PIXELS` per channel.
#[inline]
fn planes<T, const C: usize, const OH: usize, const OW: usize, const PIXELS: usize>(
    y: &[[[T; OW]; OH]; C],
) -> &[[T; PIXELS]] {
    y.as_flattened().as_flattened().as_chunks::<PIXELS>().0
}

impl<
        T: Scalar,
        const C_IN: usize,
        const C_OUT: usize,
        const K: usize,
        const STRIDE: usize,
        const PAD: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
        const PATCH: usize,
        const PIXELS: usize,
    > Layer<T> for Conv2d<T, C_IN, C_OUT, K, STRIDE, PAD, H, W, OH, OW, PATCH, PIXELS>
{
    type Input = [[[T; W]; H]; C_IN];
    type Output = [[[T; OW]; OH]; C_OUT];
    const TENSORS: &'static [ParamSpec] = &[
        ParamSpec::new(
            "W",
            &[C_OUT, C_IN, K, K],
            Role::Weight {
                fan_in: C_IN * K * K,
            },
        ),
        ParamSpec::new("b", &[C_OUT], Role::Bias),
    ];

    fn zeros() -> Self {
        Conv2d::zeros()
    }

    #[inline]
    fn tensor(&self, index: usize) -> Option<&[T]> {
        match index {
            0 => Some(self.w.as_flattened().as_flattened().as_flattened()),
            1 => Some(&self.b),
            _ => None,
        }
    }

    #[inline]
    fn tensor_mut(&mut self, index: usize) -> Option<&mut [T]> {
        match index {
            0 => Some(
                self.w
                    .as_flattened_mut()
                    .as_flattened_mut()
                    .as_flattened_mut(),
            ),
            1 => Some(&mut self.b),
            _ => None,
        }
    }

    fn forward<const B: usize>(&self, x: &[Self::Input; B], y: &mut [Self::Output; B], _: Mode) {
        let g = Self::GEOMETRY;
        let kernel = kernels::Kernel::detect();
        for (xs, ys) in x.iter().zip(y.iter_mut()) {
            let x = xs.as_flattened().as_flattened();
            let y = ys
                .as_flattened_mut()
                .as_flattened_mut()
                .as_chunks_mut::<PIXELS>()
                .0;
            kernels::conv_forward_with(kernel, &g, x, self.weight_rows(), &self.b, y);
        }
    }

    fn backward<const B: usize>(
        &self,
        x: &[Self::Input; B],
        _y: &[Self::Output; B],
        dy: &[Self::Output; B],
        grads: &mut Self,
        dx: Option<&mut [Self::Input; B]>,
    ) {
        let g = Self::GEOMETRY;
        let kernel = kernels::Kernel::detect();
        *grads = Self::zeros();
        for (xs, dys) in x.iter().zip(dy) {
            let x = xs.as_flattened().as_flattened();
            let dw = grads
                .w
                .as_flattened_mut()
                .as_flattened_mut()
                .as_flattened_mut();
            let (dw, db) = (dw.as_chunks_mut::<PATCH>().0, &mut grads.b);
            kernels::conv_weight_gradient_with(
                kernel,
                &g,
                x,
                planes::<T, C_OUT, OH, OW, PIXELS>(dys),
                dw,
                db,
            );
        }
        if let Some(dx) = dx {
            input_gradient::<T, C_OUT, PATCH, PIXELS, OH, OW, _>(&g, self.weight_rows(), dy, dx);
        }
    }
}

/// `dx` of a batch: the kernels transposed once, then one product and scatter per sample.
/// Not inlined, for the reason `Affine`'s input gradient is not.
#[inline(never)]
fn input_gradient<
    T: Scalar,
    const C_OUT: usize,
    const PATCH: usize,
    const PIXELS: usize,
    const OH: usize,
    const OW: usize,
    X: crate::layer::Tensor<T>,
>(
    g: &Geometry,
    w: &[[T; PATCH]],
    dy: &[[[[T; OW]; OH]; C_OUT]],
    dx: &mut [X],
) {
    let mut wt = [[T::zero(); C_OUT]; PATCH];
    for (co, row) in w.iter().enumerate() {
        for (t, &v) in wt.iter_mut().zip(row) {
            if let Some(t) = t.get_mut(co) {
                *t = v;
            }
        }
    }
    let mut dcol = [[T::zero(); PIXELS]; PATCH];
    for (dys, dxs) in dy.iter().zip(dx.iter_mut()) {
        if let Ok(dy) = <&[[T; PIXELS]; C_OUT]>::try_from(planes(dys)) {
            kernels::conv_input_gradient(g, &wt, dy, &mut dcol, dxs.as_flat_mut());
        }
    }
}

macro_rules! from_le_bytes {
    ($t:ty, $n:literal, $vector:ident) => {
        impl<
                const C_IN: usize,
                const C_OUT: usize,
                const K: usize,
                const STRIDE: usize,
                const PAD: usize,
                const H: usize,
                const W: usize,
                const OH: usize,
                const OW: usize,
                const PATCH: usize,
                const PIXELS: usize,
            > Conv2d<$t, C_IN, C_OUT, K, STRIDE, PAD, H, W, OH, OW, PATCH, PIXELS>
        {
            #[doc = concat!("The layer whose `W` (in `[c_out][c_in][ky][kx]` order) then `b` are the little-endian `", stringify!($t), "` values at byte offset `at` of `bytes`: a `const fn`, so weights can be decoded into a `static` at compile time.")]
            pub const fn from_le_bytes_at(bytes: &[u8], at: usize) -> Self {
                let mut w = [[[[0.0; K]; K]; C_IN]; C_OUT];
                let mut at = at;
                let mut co = 0;
                while co < C_OUT {
                    let mut ci = 0;
                    while ci < C_IN {
                        let mut ky = 0;
                        while ky < K {
                            w[co][ci][ky] = bytes::$vector::<K>(bytes, at);
                            at += K * $n;
                            ky += 1;
                        }
                        ci += 1;
                    }
                    co += 1;
                }
                Conv2d { w, b: bytes::$vector::<C_OUT>(bytes, at) }
            }
        }
    };
}
from_le_bytes!(f32, 4, vector_f32);
from_le_bytes!(f64, 8, vector_f64);
