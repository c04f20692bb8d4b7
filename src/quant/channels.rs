//! What `Dense` and `Conv` share: int8 weights with one scale per output channel, int32
//! biases, and the constants derived from them.

use super::{
    channel_constants, quantize_bias, quantize_channel, requantize, Quant, QuantError, Requant,
    Values, ValuesMut, Writer,
};
use crate::bytes;

/// `C` output channels, each a row of `N` int8 weights with its own scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Channels<const N: usize, const C: usize> {
    /// Weights, one row per output channel.
    pub w: [[i8; N]; C],
    /// Biases at scale `input.scale · w_scale[c]`.
    pub b: [i32; C],
    /// Each output channel's weight scale.
    pub w_scale: [f32; C],
    /// The outputs' quantization.
    pub output: Quant,
    /// The inputs' quantization (derived: the previous layer's output).
    pub input: Quant,
    /// `b − input.zero · Σ w`, added to `Σ x·w` (derived).
    pub offset: [i32; C],
    /// `input.scale · w_scale / output.scale` in fixed point (derived).
    pub requant: [Requant; C],
}

impl<const N: usize, const C: usize> Channels<N, C> {
    /// Bytes of the raw layout: `w`, `b`, `w_scale`, `output`, `input`, `offset`, `requant`.
    pub const BYTES: usize = C * N + 12 * C + 2 * Quant::BYTES + Requant::BYTES * C;

    /// All zero, scales 1.
    pub const fn zeros() -> Self {
        let one = Quant {
            scale: 1.0,
            zero: 0,
        };
        Channels {
            w: [[0; N]; C],
            b: [0; C],
            w_scale: [1.0; C],
            output: one,
            input: one,
            offset: [0; C],
            requant: [Requant {
                multiplier: 0,
                shift: 0,
            }; C],
        }
    }

    /// Quantizes the weights `row(c)` and biases `b` of each channel for inputs quantized
    /// as `input` and outputs as `output`.
    pub(crate) fn quantize<R: Iterator<Item = f32> + Clone>(
        row: impl Fn(usize) -> R,
        b: &[f32; C],
        input: Quant,
        output: Quant,
    ) -> Result<Self, QuantError> {
        let mut q = Self::zeros();
        for (c, &bias) in b.iter().enumerate() {
            q.w_scale[c] = quantize_channel(row(c), &mut q.w[c])?;
            q.b[c] = quantize_bias(bias, input, q.w_scale[c])?;
        }
        q.output = output;
        q.prepare(input)?;
        Ok(q)
    }

    /// [`quantize`](Self::quantize) of the weights and biases with a `BatchNorm` (in
    /// inference mode, running statistics) folded in: channel `c`'s weights times
    /// `gamma / √(var + ε)`, its bias `(b − mean) · gamma / √(var + ε) + beta`.
    pub(crate) fn quantize_folded<R: Iterator<Item = f32> + Clone, const S: usize>(
        row: impl Fn(usize) -> R,
        b: &[f32; C],
        batch_norm: &crate::BatchNorm<f32, C, S>,
        input: Quant,
        output: Quant,
    ) -> Result<Self, QuantError> {
        let (scale, shift) = batch_norm.inference_affine();
        let bias: [f32; C] = core::array::from_fn(|c| b[c] * scale[c] + shift[c]);
        Self::quantize(|c| row(c).map(move |w| w * scale[c]), &bias, input, output)
    }

    /// Requantizes channel `c`'s accumulator `Σ x·w` to its int8 output; `relu` clamps at
    /// the output's zero point.
    #[inline]
    pub(crate) fn output_of(&self, c: usize, sum: i32, relu: bool) -> i8 {
        let min = if relu { self.output.zero } else { -128 };
        match (self.offset.get(c), self.requant.get(c)) {
            (Some(&offset), Some(&r)) => {
                requantize(sum.wrapping_add(offset), r, self.output.zero, min)
            }
            _ => 0,
        }
    }

    /// The stored tensors: `W`, `b`, `W_scale`, `output_scale`, `output_zero`.
    pub(crate) fn tensor(&self, index: usize) -> Option<Values<'_>> {
        Some(match index {
            0 => Values::I8(self.w.as_flattened()),
            1 => Values::I32(&self.b),
            2 => Values::F32(&self.w_scale),
            3 => Values::F32(core::slice::from_ref(&self.output.scale)),
            4 => Values::I32(core::slice::from_ref(&self.output.zero)),
            _ => return None,
        })
    }

    pub(crate) fn tensor_mut(&mut self, index: usize) -> Option<ValuesMut<'_>> {
        Some(match index {
            0 => ValuesMut::I8(self.w.as_flattened_mut()),
            1 => ValuesMut::I32(&mut self.b),
            2 => ValuesMut::F32(&mut self.w_scale),
            3 => ValuesMut::F32(core::slice::from_mut(&mut self.output.scale)),
            4 => ValuesMut::I32(core::slice::from_mut(&mut self.output.zero)),
            _ => return None,
        })
    }

    /// Recomputes `input`, `offset` and `requant`, checking every scale.
    pub(crate) fn prepare(&mut self, input: Quant) -> Result<Quant, QuantError> {
        let input = Quant::new(input.scale, input.zero)?;
        let output = Quant::new(self.output.scale, self.output.zero)?;
        for c in 0..C {
            (self.offset[c], self.requant[c]) =
                channel_constants(&self.w[c], self.b[c], self.w_scale[c], input, output)?;
        }
        self.input = input;
        Ok(output)
    }

    pub(crate) fn write_le_bytes(&self, out: &mut Writer) {
        out.i8s(self.w.as_flattened());
        out.i32s(&self.b);
        out.f32s(&self.w_scale);
        self.output.write_le_bytes(out);
        self.input.write_le_bytes(out);
        out.i32s(&self.offset);
        out.requants(&self.requant);
    }

    /// The raw little-endian layout at byte offset `at` (a `const fn`, for `static`s).
    pub const fn from_le_bytes_at(b: &[u8], at: usize) -> Self {
        let w = bytes::matrix_i8::<C, N>(b, at);
        let at = at + C * N;
        let bias = bytes::vector_i32::<C>(b, at);
        let w_scale = bytes::vector_f32::<C>(b, at + 4 * C);
        let at = at + 8 * C;
        let output = Quant::from_le_bytes_at(b, at);
        let input = Quant::from_le_bytes_at(b, at + Quant::BYTES);
        let at = at + 2 * Quant::BYTES;
        let offset = bytes::vector_i32::<C>(b, at);
        let at = at + 4 * C;
        let mut requant = Self::zeros().requant;
        let mut c = 0;
        while c < C {
            requant[c] = Requant::from_le_bytes_at(b, at + c * Requant::BYTES);
            c += 1;
        }
        Channels {
            w,
            b: bias,
            w_scale,
            output,
            input,
            offset,
            requant,
        }
    }
}

/// The `Int8Layer` items of a layer that is its `channels` field: everything but the
/// tensors' shapes.
macro_rules! delegate_to_channels {
    ($n:expr, $c:expr) => {
        const BYTES: usize = Channels::<{ $n }, { $c }>::BYTES;
        fn zeros() -> Self {
            Self {
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
    };
}
pub(crate) use delegate_to_channels;
