//! The element type of every tensor: `f32` or `f64`.

use core::fmt::{Debug, Display};
use num_traits::Float;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point scalar a network can be built from: `f32` or `f64`.
///
/// Everything numeric goes through [`num_traits::Float`] (backed by `libm` on `no_std`),
/// so the same generated network runs in either precision. The trait is sealed: the byte
/// layout of saved weights (little-endian IEEE 754) and the `safetensors` dtype are part of
/// the format.
///
/// ```
/// use typenet::Scalar;
/// assert_eq!(<f32 as Scalar>::DTYPE, "F32");
/// assert_eq!(f64::from_f64(0.5), 0.5);
/// ```
pub trait Scalar:
    Float + Default + Debug + Display + Send + Sync + 'static + sealed::Sealed
{
    /// The `safetensors` dtype name (`"F32"` or `"F64"`).
    const DTYPE: &'static str;
    /// Size of one value in bytes.
    const BYTES: usize;
    /// Converts from `f64` (rounding to nearest for `f32`).
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64` (exact).
    fn as_f64(self) -> f64;
    /// Writes the little-endian bytes of `self` into `out[..Self::BYTES]`.
    fn write_le(self, out: &mut [u8]);
    /// Reads a value from the little-endian bytes `bytes[..Self::BYTES]`.
    fn read_le(bytes: &[u8]) -> Self;
}

macro_rules! impl_scalar {
    ($t:ty, $name:literal) => {
        impl Scalar for $t {
            const DTYPE: &'static str = $name;
            const BYTES: usize = core::mem::size_of::<$t>();
            #[inline]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn as_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn write_le(self, out: &mut [u8]) {
                out[..Self::BYTES].copy_from_slice(&self.to_le_bytes());
            }
            #[inline]
            fn read_le(bytes: &[u8]) -> Self {
                let mut b = [0u8; core::mem::size_of::<$t>()];
                b.copy_from_slice(&bytes[..Self::BYTES]);
                <$t>::from_le_bytes(b)
            }
        }
    };
}
impl_scalar!(f32, "F32");
impl_scalar!(f64, "F64");
