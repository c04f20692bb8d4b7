//! The int8 `Conv2d`.

use super::channels::{delegate_to_channels, Channels};
use super::{Dtype, Int8Layer, Quant, QuantError, Spec, Values, ValuesMut, Writer};
use crate::kernels::int8;
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

    /// [`quantize`](Self::quantize) with the `BatchNorm` that follows `layer` folded into
    /// its weights and biases.
    pub fn quantize_folded<const PIXELS: usize>(
        layer: &Conv2d<f32, C_IN, C_OUT, K, STRIDE, PAD, H, W, OH, OW, PATCH, PIXELS>,
        batch_norm: &crate::BatchNorm<f32, C_OUT, PIXELS>,
        input: Quant,
        output: Quant,
    ) -> Result<Self, QuantError> {
        let rows = layer.weight_rows();
        let row = |c: usize| rows[c].iter().copied();
        Ok(Conv {
            channels: Channels::quantize_folded(row, &layer.b, batch_norm, input, output)?,
        })
    }

    /// The int8 outputs of `x`: for each output pixel, its `PATCH` inputs gathered into a
    /// column (padding holds the input's zero point), then every channel's dot product
    /// with it.
    pub fn forward(&self, x: &[i8; IN], y: &mut [i8; OUT]) {
        let () = Self::SIZES;
        let zero = self.channels.input.zero.clamp(-128, 127) as i8;
        let rows = x.as_chunks::<W>().0;
        for oy in 0..OH {
            for ox in 0..OW {
                let mut column = [zero; PATCH];
                for (ci, taps) in column.chunks_exact_mut(K * K).enumerate() {
                    for (ky, taps) in taps.chunks_exact_mut(K).enumerate() {
                        // A padded row is out of range (`iy` wraps): it keeps `zero`.
                        let iy = (oy * STRIDE + ky).wrapping_sub(PAD);
                        let Some(row) = (iy < H).then(|| rows.get(ci * H + iy)).flatten() else {
                            continue;
                        };
                        let start = ox * STRIDE;
                        match row.get(start.wrapping_sub(PAD)..(start + K).wrapping_sub(PAD)) {
                            Some(inputs) => {
                                for (t, &v) in taps.iter_mut().zip(inputs) {
                                    *t = v;
                                }
                            }
                            _ => {
                                for (kx, t) in taps.iter_mut().enumerate() {
                                    if let Some(&v) = row.get((start + kx).wrapping_sub(PAD)) {
                                        *t = v;
                                    }
                                }
                            }
                        }
                    }
                }
                let pixel = oy * OW + ox;
                int8::dot_rows(&self.channels.w, &column, |c, sum| {
                    if let Some(out) = y.get_mut(c * OH * OW + pixel) {
                        *out = self.channels.output_of(c, sum, RELU);
                    }
                });
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
    delegate_to_channels!(PATCH, C_OUT);
}
