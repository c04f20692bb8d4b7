//! The int8 `Conv2d`.

use super::channels::{dot, Channels};
use super::{Dtype, Int8Layer, Quant, QuantError, Spec, Values, ValuesMut, Writer};
use crate::kernels::Geometry;
use crate::Conv2d;

/// A `Conv2d` with int8 weights (one scale per output channel), int32 biases and int8
/// outputs; `RELU` fuses the `Relu` after it into the clamp. Padding holds the input's zero
/// point (real 0).
///
/// The sizes are those of the `f32` layer ([`network!`](crate::network) writes them), plus
/// `IN = C_IN·H·W` and `OUT = C_OUT·OH·OW`, the flat sizes of a sample in and out (channels,
/// then rows, then columns, as everywhere in typenet).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv<
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
    const IN: usize,
    const OUT: usize,
    const RELU: bool,
> {
    /// The weights (`[C_OUT, C_IN, K, K]`, a row of `PATCH` per output channel), biases,
    /// scales and derived constants.
    pub channels: Channels<PATCH, C_OUT>,
}

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
        const IN: usize,
        const OUT: usize,
        const RELU: bool,
    > Conv<C_IN, C_OUT, K, STRIDE, PAD, H, W, OH, OW, PATCH, IN, OUT, RELU>
{
    /// The sizes agree: checked when the type is used.
    const SIZES: () = {
        assert!(
            matches!(Geometry::output_side(H, K, STRIDE, PAD), Some(n) if n == OH)
                && matches!(Geometry::output_side(W, K, STRIDE, PAD), Some(n) if n == OW),
            "Conv: OH and OW must be (H + 2·PAD − K) / STRIDE + 1"
        );
        assert!(
            PATCH == C_IN * K * K && IN == C_IN * H * W && OUT == C_OUT * OH * OW,
            "Conv: PATCH must be C_IN·K·K, IN C_IN·H·W and OUT C_OUT·OH·OW"
        );
    };

    /// Quantizes `layer` for inputs quantized as `input` and outputs as `output`.
    pub fn quantize<const PIXELS: usize>(
        layer: &Conv2d<f32, C_IN, C_OUT, K, STRIDE, PAD, H, W, OH, OW, PATCH, PIXELS>,
        input: Quant,
        output: Quant,
    ) -> Result<Self, QuantError> {
        let rows = layer.weight_rows();
        let row = |c: usize| rows[c].iter().copied();
        Ok(Conv {
            channels: Channels::quantize(row, &layer.b, input, output)?,
        })
    }

    /// The int8 outputs of `x`.
    pub fn forward(&self, x: &[i8; IN], y: &mut [i8; OUT]) {
        let () = Self::SIZES;
        let zero = self.channels.input.zero;
        let rows = x.as_chunks::<W>().0;
        for (c, (plane, w)) in y
            .chunks_exact_mut(OH * OW)
            .zip(&self.channels.w)
            .enumerate()
        {
            for (oy, out_row) in plane.chunks_exact_mut(OW).enumerate() {
                for (ox, out) in out_row.iter_mut().enumerate() {
                    let mut sum = 0i32;
                    for (ci, taps) in w.chunks_exact(K * K).enumerate() {
                        for (ky, taps) in taps.chunks_exact(K).enumerate() {
                            // A padded row is out of range (`iy` wraps): it holds `zero`.
                            let iy = (oy * STRIDE + ky).wrapping_sub(PAD);
                            let row = if iy < H { rows.get(ci * H + iy) } else { None };
                            let start = ox * STRIDE;
                            sum = sum.wrapping_add(match row {
                                Some(row) if PAD == 0 => {
                                    row.get(start..start + K).map_or(0, |x| dot(taps, x))
                                }
                                Some(row) => padded_dot(taps, row, start, PAD, zero),
                                None => zero.wrapping_mul(taps.iter().map(|&t| t as i32).sum()),
                            });
                        }
                    }
                    *out = self.channels.output_of(c, sum, RELU);
                }
            }
        }
    }

    /// The raw little-endian layout at byte offset `at` (a `const fn`, for `static`s).
    pub const fn from_le_bytes_at(bytes: &[u8], at: usize) -> Self {
        Conv {
            channels: Channels::from_le_bytes_at(bytes, at),
        }
    }
}

/// `Σ taps·x` over the row's columns `start − pad ..`, where columns outside the row hold
/// `zero`.
fn padded_dot(taps: &[i8], row: &[i8], start: usize, pad: usize, zero: i32) -> i32 {
    taps.iter().enumerate().fold(0i32, |acc, (kx, &t)| {
        let x = row
            .get((start + kx).wrapping_sub(pad))
            .map_or(zero, |&x| x as i32);
        acc.wrapping_add(x * t as i32)
    })
}

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
        const IN: usize,
        const OUT: usize,
        const RELU: bool,
    > Int8Layer for Conv<C_IN, C_OUT, K, STRIDE, PAD, H, W, OH, OW, PATCH, IN, OUT, RELU>
{
    const TENSORS: &'static [Spec] = &[
        Spec::new("W", &[C_OUT, C_IN, K, K], Dtype::I8),
        Spec::new("b", &[C_OUT], Dtype::I32),
        Spec::new("W_scale", &[C_OUT], Dtype::F32),
        Spec::new("output_scale", &[1], Dtype::F32),
        Spec::new("output_zero", &[1], Dtype::I32),
    ];
    const BYTES: usize = Channels::<PATCH, C_OUT>::BYTES;

    fn zeros() -> Self {
        Conv {
            channels: Channels::zeros(),
        }
    }
    fn tensor(&self, index: usize) -> Option<Values<'_>> {
        self.channels.tensor(index)
    }
    fn tensor_mut(&mut self, index: usize) -> Option<ValuesMut<'_>> {
        self.channels.tensor_mut(index)
    }
    fn prepare(&mut self, input: Quant) -> Result<Quant, QuantError> {
        self.channels.prepare(input)
    }
    fn write_le_bytes(&self, out: &mut Writer) {
        self.channels.write_le_bytes(out)
    }
}
