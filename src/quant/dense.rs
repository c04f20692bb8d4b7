//! The int8 `Affine`.

use super::channels::{delegate_to_channels, Channels};
use super::{Dtype, Int8Layer, Quant, QuantError, Spec, Values, ValuesMut, Writer};
use crate::kernels::int8;
use crate::Affine;

/// An `Affine<I, O>` with int8 weights (one scale per output), int32 biases and int8
/// outputs; `RELU` fuses the `Relu` after it into the clamp.
///
/// `W` is stored output by output (`[O, I]`, PyTorch's and TensorFlow Lite's layout), so
/// that each output is one contiguous dot product.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dense<const I: usize, const O: usize, const RELU: bool> {
    /// The weights, biases, scales and derived constants.
    pub channels: Channels<I, O>,
}

impl<const I: usize, const O: usize, const RELU: bool> Dense<I, O, RELU> {
    /// Quantizes `layer` for inputs quantized as `input` and outputs as `output`.
    pub fn quantize(
        layer: &Affine<f32, I, O>,
        input: Quant,
        output: Quant,
    ) -> Result<Self, QuantError> {
        let row = |o: usize| layer.w.iter().map(move |inputs| inputs[o]);
        Ok(Dense {
            channels: Channels::quantize(row, &layer.b, input, output)?,
        })
    }

    /// [`quantize`](Self::quantize) with the `BatchNorm` that follows `layer` folded into
    /// its weights and biases.
    pub fn quantize_folded(
        layer: &Affine<f32, I, O>,
        batch_norm: &crate::BatchNorm<f32, O, 1>,
        input: Quant,
        output: Quant,
    ) -> Result<Self, QuantError> {
        let row = |o: usize| layer.w.iter().map(move |inputs| inputs[o]);
        Ok(Dense {
            channels: Channels::quantize_folded(row, &layer.b, batch_norm, input, output)?,
        })
    }

    /// The int8 outputs of `x`.
    #[inline]
    pub fn forward(&self, x: &[i8; I], y: &mut [i8; O]) {
        int8::dot_rows(&self.channels.w, x, |o, sum| {
            if let Some(y) = y.get_mut(o) {
                *y = self.channels.output_of(o, sum, RELU);
            }
        });
    }

    /// The raw little-endian layout at byte offset `at` (a `const fn`, for `static`s).
    pub const fn from_le_bytes_at(bytes: &[u8], at: usize) -> Self {
        Dense {
            channels: Channels::from_le_bytes_at(bytes, at),
        }
    }
}

impl<const I: usize, const O: usize, const RELU: bool> Int8Layer for Dense<I, O, RELU> {
    const TENSORS: &'static [Spec] = &[
        Spec::new("W", &[O, I], Dtype::I8),
        Spec::new("b", &[O], Dtype::I32),
        Spec::new("W_scale", &[O], Dtype::F32),
        Spec::new("output_scale", &[1], Dtype::F32),
        Spec::new("output_zero", &[1], Dtype::I32),
    ];
    delegate_to_channels!(I, O);
}
