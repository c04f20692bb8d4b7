//! Max pooling (chapter 7).

use crate::kernels::{self, Geometry};
use crate::layer::{Layer, Mode};
use crate::Scalar;

/// Max pooling of `C`-channel `H`×`W` images over `P`×`P` windows taken every `S` pixels:
/// the book's `Pooling`, and PyTorch's `MaxPool2d` (no padding).
///
/// In `network!` it is written `MaxPool<P>` (stride `P`) or `MaxPool<P, S>`; the macro works
/// out the other sizes and refuses windows that do not tile their input exactly. Written by
/// hand, the type takes `OH` and `OW` too, and sizes that disagree fail to compile.
///
/// Backward sends each window's gradient to its largest input (the first one on ties, as
/// the book's `argmax`), found again by comparing the inputs with the output, so nothing
/// else is stored.
///
/// ```
/// use typenet::layer::{Layer, Mode};
/// use typenet::MaxPool;
/// type Pool = MaxPool<1, 4, 4, 2, 2, 2, 2>;
/// let x = [[[[1.0f32, 2.0, 0.0, 1.0], [3.0, 4.0, 1.0, 0.0], [0.0, 0.0, 5.0, 6.0], [9.0, 0.0, 7.0, 8.0]]]];
/// let mut y = [[[[0.0; 2]; 2]]];
/// Pool::default().forward(&x, &mut y, Mode::Infer);
/// assert_eq!(y, [[[[4.0, 1.0], [9.0, 8.0]]]]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaxPool<
    const C: usize,
    const H: usize,
    const W: usize,
    const P: usize,
    const S: usize,
    const OH: usize,
    const OW: usize,
>;

impl<
        const C: usize,
        const H: usize,
        const W: usize,
        const P: usize,
        const S: usize,
        const OH: usize,
        const OW: usize,
    > MaxPool<C, H, W, P, S, OH, OW>
{
    /// The sizes, checked when the type is used: a type whose sizes disagree does not
    /// compile.
    pub const GEOMETRY: Geometry = {
        assert!(
            P > 0 && S > 0 && H >= P && W >= P,
            "MaxPool: the window must fit its input"
        );
        assert!(
            (H - P).is_multiple_of(S) && (W - P).is_multiple_of(S),
            "MaxPool: the windows do not tile the input"
        );
        assert!(
            (H - P) / S + 1 == OH && (W - P) / S + 1 == OW,
            "MaxPool: OH and OW must be (H − P) / S + 1"
        );
        Geometry {
            channels: C,
            height: H,
            width: W,
            window: P,
            stride: S,
            pad: 0,
            out_height: OH,
            out_width: OW,
        }
    };

    /// The layer (it has no parameters): a `const fn`, as every built-in layer has, for the
    /// decoders `network!` generates.
    pub const fn from_le_bytes_at(_bytes: &[u8], _at: usize) -> Self {
        MaxPool
    }
}

impl<
        T: Scalar,
        const C: usize,
        const H: usize,
        const W: usize,
        const P: usize,
        const S: usize,
        const OH: usize,
        const OW: usize,
    > Layer<T> for MaxPool<C, H, W, P, S, OH, OW>
{
    type Input = [[[T; W]; H]; C];
    type Output = [[[T; OW]; OH]; C];

    fn zeros() -> Self {
        MaxPool
    }

    fn forward<const B: usize>(&self, x: &[Self::Input; B], y: &mut [Self::Output; B], _: Mode) {
        let (g, kernel) = (Self::GEOMETRY, kernels::Kernel::detect());
        kernels::max_pool_with(
            kernel,
            &g,
            x.as_flattened().as_flattened(),
            y.as_flattened_mut().as_flattened_mut(),
        );
    }

    fn backward<const B: usize>(
        &self,
        x: &[Self::Input; B],
        y: &[Self::Output; B],
        dy: &[Self::Output; B],
        _grads: &mut Self,
        dx: Option<&mut [Self::Input; B]>,
    ) {
        let (g, kernel) = (Self::GEOMETRY, kernels::Kernel::detect());
        if let Some(dx) = dx {
            let (x, y, dy) = (
                x.as_flattened().as_flattened(),
                y.as_flattened().as_flattened(),
                dy.as_flattened().as_flattened(),
            );
            kernels::max_pool_backward_with(
                kernel,
                &g,
                x,
                y,
                dy,
                dx.as_flattened_mut().as_flattened_mut(),
            );
        }
    }
}
