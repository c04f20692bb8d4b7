//! The int8 layers without weights: `MaxPool`, `Relu` and `Dropout`. The integers pass
//! through with their input's zero point.

use super::{Int8Layer, Quant, QuantError, Spec, Values, ValuesMut, Writer};

/// `MaxPool` on int8 values: the maximum commutes with the (increasing) quantization, so the
/// output has the input's scale and zero point. `IN = C·H·W`, `OUT = C·OH·OW`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MaxPool<
    const C: usize,
    const H: usize,
    const W: usize,
    const P: usize,
    const S: usize,
    const OH: usize,
    const OW: usize,
    const IN: usize,
    const OUT: usize,
>;

impl<
        const C: usize,
        const H: usize,
        const W: usize,
        const P: usize,
        const S: usize,
        const OH: usize,
        const OW: usize,
        const IN: usize,
        const OUT: usize,
    > MaxPool<C, H, W, P, S, OH, OW, IN, OUT>
{
    const SIZES: () = {
        let _ = crate::MaxPool::<C, H, W, P, S, OH, OW>::GEOMETRY;
        assert!(
            IN == C * H * W && OUT == C * OH * OW,
            "MaxPool: IN must be C·H·W and OUT C·OH·OW"
        );
    };

    /// The maximum of each window.
    pub fn forward(&self, x: &[i8; IN], y: &mut [i8; OUT]) {
        let () = Self::SIZES;
        let rows = x.as_chunks::<W>().0;
        for (c, plane) in y.chunks_exact_mut(OH * OW).enumerate() {
            for (oy, out_row) in plane.chunks_exact_mut(OW).enumerate() {
                let window_rows = rows.get(c * H + oy * S..c * H + oy * S + P).unwrap_or(&[]);
                for (ox, out) in out_row.iter_mut().enumerate() {
                    let mut m = i8::MIN;
                    for row in window_rows {
                        for &v in row.get(ox * S..ox * S + P).unwrap_or(&[]) {
                            m = m.max(v);
                        }
                    }
                    *out = m;
                }
            }
        }
    }

    /// The layer (it has no parameters), for the generated `const fn` decoders.
    pub const fn from_le_bytes_at(_bytes: &[u8], _at: usize) -> Self {
        MaxPool
    }
}

/// A `Relu` on its own (one that follows neither an `Affine` nor a `Conv2d`, which fuse
/// it): the int8 value of real 0 is the input's zero point, which it keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Relu<const N: usize> {
    /// The inputs' (and outputs') zero point (derived).
    pub zero: i32,
}

impl<const N: usize> Relu<N> {
    /// `max(x, zero)`.
    pub fn forward(&self, x: &[i8; N], y: &mut [i8; N]) {
        let zero = self.zero.clamp(-128, 127) as i8;
        for (y, &x) in y.iter_mut().zip(x) {
            *y = x.max(zero);
        }
    }

    /// The raw little-endian layout at byte offset `at` (a `const fn`, for `static`s).
    pub const fn from_le_bytes_at(bytes: &[u8], at: usize) -> Self {
        Relu {
            zero: crate::bytes::read_i32(bytes, at),
        }
    }
}

/// A `Dropout` at inference, which scales its inputs by `keep = 1 − ratio`: the integers
/// stay as they are and only their scale changes, so the generated `predict` does not even
/// call it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout<const N: usize> {
    /// `1 − ratio` of the `f32` layer.
    pub keep: f32,
}

impl<const N: usize> Dropout<N> {
    /// The layer for the `f32` layer `dropout`.
    pub fn quantize(dropout: &crate::Dropout<f32, N>) -> Self {
        Dropout {
            keep: 1.0 - dropout.ratio,
        }
    }

    /// The raw little-endian layout at byte offset `at` (a `const fn`, for `static`s).
    pub const fn from_le_bytes_at(bytes: &[u8], at: usize) -> Self {
        Dropout {
            keep: crate::bytes::read_f32(bytes, at),
        }
    }
}

impl<const N: usize> Int8Layer for Dropout<N> {
    const TENSORS: &'static [Spec] = &[Spec::new("keep", &[1], super::Dtype::F32)];
    const BYTES: usize = 4;
    fn zeros() -> Self {
        Dropout { keep: 1.0 }
    }
    fn tensor(&self, index: usize) -> Option<Values<'_>> {
        (index == 0).then(|| Values::F32(core::slice::from_ref(&self.keep)))
    }
    fn tensor_mut(&mut self, index: usize) -> Option<ValuesMut<'_>> {
        (index == 0).then(|| ValuesMut::F32(core::slice::from_mut(&mut self.keep)))
    }
    fn prepare(&mut self, input: Quant) -> Result<Quant, QuantError> {
        Quant::new(input.scale * self.keep, input.zero)
    }
    fn write_le_bytes(&self, out: &mut Writer) {
        out.f32s(&[self.keep]);
    }
}

macro_rules! pass_through {
    () => {
        const TENSORS: &'static [Spec] = &[];
        fn tensor(&self, _: usize) -> Option<Values<'_>> {
            None
        }
        fn tensor_mut(&mut self, _: usize) -> Option<ValuesMut<'_>> {
            None
        }
    };
}

impl<
        const C: usize,
        const H: usize,
        const W: usize,
        const P: usize,
        const S: usize,
        const OH: usize,
        const OW: usize,
        const IN: usize,
        const OUT: usize,
    > Int8Layer for MaxPool<C, H, W, P, S, OH, OW, IN, OUT>
{
    pass_through!();
    const BYTES: usize = 0;
    fn zeros() -> Self {
        MaxPool
    }
    fn prepare(&mut self, input: Quant) -> Result<Quant, QuantError> {
        Ok(input)
    }
    fn write_le_bytes(&self, _: &mut Writer) {}
}

impl<const N: usize> Int8Layer for Relu<N> {
    pass_through!();
    const BYTES: usize = 4;
    fn zeros() -> Self {
        Relu { zero: 0 }
    }
    fn prepare(&mut self, input: Quant) -> Result<Quant, QuantError> {
        self.zero = input.zero;
        Ok(input)
    }
    fn write_le_bytes(&self, out: &mut Writer) {
        out.i32s(&[self.zero]);
    }
}
