//! int8 networks: post-training quantization on the host, integer-only inference anywhere.
//!
//! Every network declared with [`network!`](crate::network) whose layers are `Affine`,
//! `Conv2d`, `Relu`, `MaxPool`, `Dropout`, `SoftmaxWithLoss`, and `BatchNorm` right after an
//! `Affine` or a `Conv2d`, also gets an int8 twin,
//! `NameInt8`, and `Name::<f32>::quantize(calibration)` builds it. The scheme is TensorFlow
//! Lite's int8 specification:
//!
//! - **weights** int8, symmetric (zero point 0, −127…127), one scale per output channel of a
//!   `Conv2d` and per output of an `Affine`;
//! - **activations** int8, asymmetric, one scale and zero point per tensor, from the minimum
//!   and maximum over the calibration samples (the range always includes 0, so that 0 and
//!   the padding of a convolution are exact). Min/max never saturates a value the
//!   calibration saw; calibrated on 500 training digits, it keeps every int8 network tested
//!   within 0.25 points of its `f32` accuracy on the bundled test digits. Percentile
//!   clipping is not offered;
//! - **biases** int32 with scale `s_in·s_w`;
//! - **requantization** of each `i32` accumulator by a 32-bit fixed-point multiplier and a
//!   shift, rounded as CMSIS-NN's `arm_nn_requantize` ([`Requant`]);
//! - a `BatchNorm` after an `Affine` or a `Conv2d` is folded into its weights and biases
//!   (with the running statistics, as at inference), before they are quantized;
//! - a `Relu` after an `Affine` or a `Conv2d` (or its `BatchNorm`) is fused into its clamp; `MaxPool` works on the
//!   int8 values directly (its output has its input's scale); `Dropout`, which scales by
//!   `1 − ratio` at inference, only changes the scale; the softmax is dropped: the class is the argmax of the int8 logits, which the
//!   softmax would not change.
//!
//! Inference is integer arithmetic only, so the host and a Cortex-M (with or without an FPU)
//! compute the same bits. The scales are stored as `f32` for the file formats and for
//! [`dequantize`](Quant::dequantize) on the host; inference never reads them.
//!
//! ```
//! use typenet::prelude::*;
//! network! {
//!     pub struct Tiny< Affine<4, 8>, Relu, Affine<8, 3>, SoftmaxWithLoss >
//! }
//! let net = Tiny::<f32>::new(1);
//! let calibration = [[0.0f32, 0.5, 1.0, 0.25], [1.0, 0.0, 0.5, 0.75]];
//! let int8: TinyInt8 = net.quantize(&calibration).unwrap();
//! let x = int8.quantize_input(&calibration[0]);
//! let logits: [i8; 3] = int8.predict(&x);
//! assert_eq!(int8.classify(&x), typenet::quant::argmax_i8(&logits));
//! ```

mod channels;
mod conv;
mod dense;
mod requant;
mod unweighted;

pub use channels::Channels;
pub use conv::Conv;
pub use dense::Dense;
pub use requant::Requant;
pub use unweighted::{Dropout, MaxPool, Relu};

use core::fmt;

/// An int8 tensor's quantization: `real = scale · (q − zero)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quant {
    /// The real value of one step, positive and finite.
    pub scale: f32,
    /// The int8 value that stands for real zero, `−128..=127`.
    pub zero: i32,
}

impl Quant {
    /// Bytes in the raw layout: `scale` (`f32`) then `zero` (`i32`), little-endian.
    pub const BYTES: usize = 8;

    /// The parameters of an int8 tensor covering `[min, max]` (widened to include 0), as
    /// TensorFlow Lite chooses them: `scale = (max − min) / 255`, and the zero point the
    /// nearest int8 to where real 0 falls.
    pub fn covering(min: f32, max: f32) -> Result<Quant, QuantError> {
        if !(min.is_finite() && max.is_finite() && min <= max) {
            return Err(QuantError::Range { min, max });
        }
        let (min, max) = (min.min(0.0) as f64, max.max(0.0) as f64);
        let scale = if max > min { (max - min) / 255.0 } else { 1.0 };
        let zero = round(-128.0 - min / scale).clamp(-128.0, 127.0) as i32;
        Quant::new(scale as f32, zero)
    }

    /// Checked parameters: an error for a scale that is not finite and positive, or a zero
    /// point outside int8.
    pub fn new(scale: f32, zero: i32) -> Result<Quant, QuantError> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(QuantError::Scale(scale));
        }
        if !(-128..=127).contains(&zero) {
            return Err(QuantError::ZeroPoint(zero));
        }
        Ok(Quant { scale, zero })
    }

    /// The nearest int8 to `x`, saturating.
    pub fn quantize(self, x: f32) -> i8 {
        (round(x as f64 / self.scale as f64) + self.zero as f64).clamp(-128.0, 127.0) as i8
    }

    /// The real value of `q`.
    pub fn dequantize(self, q: i8) -> f32 {
        self.scale * (q as i32 - self.zero) as f32
    }

    /// The raw little-endian layout at byte offset `at` (a `const fn`).
    pub const fn from_le_bytes_at(bytes: &[u8], at: usize) -> Self {
        Quant {
            scale: crate::bytes::read_f32(bytes, at),
            zero: crate::bytes::read_i32(bytes, at + 4),
        }
    }

    pub(crate) fn write_le_bytes(self, out: &mut Writer) {
        out.f32s(&[self.scale]);
        out.i32s(&[self.zero]);
    }
}

/// The smallest and largest value seen, for calibration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    /// Smallest value seen (`+∞` before any).
    pub min: f32,
    /// Largest value seen (`−∞` before any).
    pub max: f32,
}

impl Range {
    /// No value seen yet.
    pub const EMPTY: Range = Range {
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
    };

    /// Widens the range to cover `values`. NaN makes the range invalid, so that
    /// [`quant`](Self::quant) refuses it.
    pub fn observe(&mut self, values: &[f32]) {
        for &v in values {
            if v.is_nan() {
                self.min = f32::NAN;
            }
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }

    /// The int8 parameters covering the range ([`Quant::covering`]); an error before any
    /// value was seen.
    pub fn quant(self) -> Result<Quant, QuantError> {
        if self.min > self.max {
            return Err(QuantError::NoCalibration);
        }
        Quant::covering(self.min, self.max)
    }
}

/// Why a network could not be quantized, or an int8 file was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum QuantError {
    /// No calibration sample was given.
    NoCalibration,
    /// A calibration range that is not finite (a NaN or an infinity reached a layer).
    Range {
        /// Smallest value seen.
        min: f32,
        /// Largest value seen.
        max: f32,
    },
    /// A scale that is zero, negative, infinite or NaN.
    Scale(f32),
    /// A zero point outside `−128..=127`.
    ZeroPoint(i32),
    /// A weight that is not finite, or an int8 weight of −128 (symmetric weights are
    /// −127…127).
    Weight(f32),
    /// A requantization multiplier `s_in·s_w / s_out` that is not finite and positive, or
    /// too large for 32-bit fixed point.
    Multiplier(f64),
    /// A bias that does not fit in `i32` at scale `s_in·s_w`.
    Bias(f64),
}

impl fmt::Display for QuantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuantError::NoCalibration => write!(f, "no calibration samples were given"),
            QuantError::Range { min, max } => write!(
                f,
                "an activation's calibration range [{min}, {max}] is not finite"
            ),
            QuantError::Scale(s) => write!(f, "scale {s} is not finite and positive"),
            QuantError::ZeroPoint(z) => write!(f, "zero point {z} is outside -128..=127"),
            QuantError::Weight(w) => write!(f, "weight {w} is not finite"),
            QuantError::Multiplier(m) => write!(
                f,
                "requantization multiplier {m} is not in the range 32-bit fixed point holds"
            ),
            QuantError::Bias(b) => write!(f, "quantized bias {b} does not fit in i32"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for QuantError {}

/// The element type of a stored int8-network tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// int8 weights and activations.
    I8,
    /// int32 biases and zero points.
    I32,
    /// f32 scales.
    F32,
}

/// One stored tensor of an int8 layer: its name, shape and element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// Name within the layer (`W`, `b`, `W_scale`, `output_scale`, `output_zero`).
    pub name: &'static str,
    /// Shape.
    pub shape: &'static [usize],
    /// Element type.
    pub dtype: Dtype,
}

impl Spec {
    /// A spec.
    pub const fn new(name: &'static str, shape: &'static [usize], dtype: Dtype) -> Self {
        Spec { name, shape, dtype }
    }
}

/// A stored tensor's values.
#[derive(Debug, PartialEq)]
pub enum Values<'a> {
    /// int8 values.
    I8(&'a [i8]),
    /// int32 values.
    I32(&'a [i32]),
    /// f32 values.
    F32(&'a [f32]),
}

/// A stored tensor's values, to fill when loading.
#[derive(Debug, PartialEq)]
pub enum ValuesMut<'a> {
    /// int8 values.
    I8(&'a mut [i8]),
    /// int32 values.
    I32(&'a mut [i32]),
    /// f32 values.
    F32(&'a mut [f32]),
}

/// A layer of an int8 network: what it stores, and how its derived constants (fixed-point
/// multipliers, folded biases) follow from that.
pub trait Int8Layer: Copy + fmt::Debug + PartialEq + Send + Sync + 'static {
    /// The tensors a file holds for it.
    const TENSORS: &'static [Spec];
    /// Bytes of its raw layout (stored tensors and derived constants).
    const BYTES: usize;
    /// All zero; [`prepare`](Self::prepare) it before use.
    fn zeros() -> Self;
    /// The values of tensor `index` of [`TENSORS`](Self::TENSORS).
    fn tensor(&self, index: usize) -> Option<Values<'_>>;
    /// The values of tensor `index`, to fill.
    fn tensor_mut(&mut self, index: usize) -> Option<ValuesMut<'_>>;
    /// Recomputes the derived constants for input parameters `input`, checking every
    /// scale; returns the output's parameters.
    fn prepare(&mut self, input: Quant) -> Result<Quant, QuantError>;
    /// Appends its raw layout (read back by its `const fn from_le_bytes_at`).
    fn write_le_bytes(&self, out: &mut Writer);
}

/// An int8 network, as the twin `NameInt8` that [`network!`](crate::network) generates.
pub trait Int8Network: Copy + fmt::Debug + PartialEq {
    /// The name of the `f32` network it was quantized from.
    const NAME: &'static str;
    /// The layers of the `f32` network, as declared.
    const LAYERS: &'static [&'static str];
    /// Number of stored tensors (the input's two included).
    const TENSOR_COUNT: usize;
    /// Bytes of the raw layout that `from_le_bytes` reads.
    const BYTES: usize;
    /// All zero; not usable before [`prepare`](Self::prepare).
    fn zeros() -> Self;
    /// The layer name (`input`, `conv1`, `affine2`, …) and spec of tensor `index`.
    fn tensor_info(index: usize) -> Option<(&'static str, Spec)>;
    /// The values of tensor `index`.
    fn tensor(&self, index: usize) -> Option<Values<'_>>;
    /// The values of tensor `index`, to fill.
    fn tensor_mut(&mut self, index: usize) -> Option<ValuesMut<'_>>;
    /// Recomputes every derived constant from the stored tensors, checking every scale.
    fn prepare(&mut self) -> Result<(), QuantError>;
    /// Writes the raw layout into `out`, which holds exactly [`BYTES`](Self::BYTES).
    fn write_le_bytes(&self, out: &mut [u8]);
}

/// Marks a layer type that int8 networks support; the generated `quantize` of a network
/// with any other layer requires it, so that calling it is a compile error naming the
/// layer.
#[diagnostic::on_unimplemented(
    message = "`{L}` has no int8 implementation, so this network cannot be quantized",
    label = "`quantize` needs every layer to have an int8 form",
    note = "int8 networks are made of `Affine` and `Conv2d` (each with an optional `BatchNorm` after it, folded in), `Relu`, `MaxPool`, `Dropout` and `SoftmaxWithLoss` (an argmax)"
)]
pub trait HasInt8<L> {}

/// Appends little-endian values to a byte buffer, for the raw layouts.
pub struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl<'a> Writer<'a> {
    /// A writer filling `out` from its start.
    pub fn new(out: &'a mut [u8]) -> Self {
        Writer { out, at: 0 }
    }

    /// Bytes written so far.
    pub fn written(&self) -> usize {
        self.at
    }

    fn bytes(&mut self, b: &[u8]) {
        if let Some(dst) = self.out.get_mut(self.at..self.at + b.len()) {
            dst.copy_from_slice(b);
        }
        self.at += b.len();
    }

    /// Appends int8 values.
    pub fn i8s(&mut self, v: &[i8]) {
        for x in v {
            self.bytes(&x.to_le_bytes());
        }
    }

    /// Appends int32 values.
    pub fn i32s(&mut self, v: &[i32]) {
        for x in v {
            self.bytes(&x.to_le_bytes());
        }
    }

    /// Appends f32 values.
    pub fn f32s(&mut self, v: &[f32]) {
        for x in v {
            self.bytes(&x.to_le_bytes());
        }
    }

    /// Appends a tensor's quantization.
    pub fn quant(&mut self, q: Quant) {
        q.write_le_bytes(self);
    }

    /// Appends requantization constants.
    pub fn requants(&mut self, v: &[Requant]) {
        for r in v {
            self.i32s(&[r.multiplier, r.shift]);
        }
    }
}

/// The index of the largest value (the first of equals): the class of int8 logits.
pub fn argmax_i8(x: &[i8]) -> usize {
    // No indexing, so no bounds check: the firmware proves inference panic-free.
    let mut best = (0, i8::MIN);
    for (i, &v) in x.iter().enumerate() {
        if v > best.1 || i == 0 {
            best = (i, v);
        }
    }
    best.0
}

/// Quantizes one output channel's weights symmetrically: returns the scale
/// `max |w| / 127` (1 for an all-zero channel) after writing `round(w / scale)` to `q`.
pub(crate) fn quantize_channel(
    w: impl Iterator<Item = f32> + Clone,
    q: &mut [i8],
) -> Result<f32, QuantError> {
    let mut peak = 0.0f32;
    for v in w.clone() {
        if !v.is_finite() {
            return Err(QuantError::Weight(v));
        }
        peak = peak.max(num_traits::Float::abs(v));
    }
    let scale = if peak > 0.0 { peak / 127.0 } else { 1.0 };
    for (qi, v) in q.iter_mut().zip(w) {
        *qi = round(v as f64 / scale as f64).clamp(-127.0, 127.0) as i8;
    }
    Ok(scale)
}

/// The int32 bias at scale `s_in·s_w`.
pub(crate) fn quantize_bias(b: f32, input: Quant, w_scale: f32) -> Result<i32, QuantError> {
    let q = round(b as f64 / (input.scale as f64 * w_scale as f64));
    if q.is_finite() && num_traits::Float::abs(q) < i32::MAX as f64 {
        Ok(q as i32)
    } else {
        Err(QuantError::Bias(q))
    }
}

/// The derived constants of one output channel: the accumulator offset
/// `b − zero_in·Σw` and the multiplier `s_in·s_w / s_out`.
pub(crate) fn channel_constants(
    w: &[i8],
    bias: i32,
    w_scale: f32,
    input: Quant,
    output: Quant,
) -> Result<(i32, Requant), QuantError> {
    if !(w_scale.is_finite() && w_scale > 0.0) {
        return Err(QuantError::Scale(w_scale));
    }
    if w.contains(&i8::MIN) {
        return Err(QuantError::Weight(-128.0));
    }
    let sum: i64 = w.iter().map(|&v| v as i64).sum();
    let offset = bias as i64 - input.zero as i64 * sum;
    // Leave room for the products: |Σ (x − zero)·w| ≤ 255·127 per input.
    let room = i32::MAX as i64 - 255 * 127 * w.len() as i64;
    if offset.abs() > room {
        return Err(QuantError::Bias(offset as f64));
    }
    let real = input.scale as f64 * w_scale as f64 / output.scale as f64;
    Ok((offset as i32, Requant::from_real(real)?))
}

/// `requant(acc) + zero`, clamped to `[min, 127]`.
#[inline]
pub(crate) fn requantize(acc: i32, r: Requant, zero: i32, min: i32) -> i8 {
    let v = r.apply(acc).wrapping_add(zero);
    (if v < min {
        min
    } else if v > 127 {
        127
    } else {
        v
    }) as i8
}

/// Rounds half away from zero (as C's `round`, which TensorFlow Lite uses), without `std`.
pub(crate) fn round(x: f64) -> f64 {
    num_traits::Float::round(x)
}
