//! Fixed-point requantization: an `i32` accumulator times a real multiplier, in integers.

use super::QuantError;

/// A positive real multiplier `M` as a 32-bit fixed-point `multiplier` and a power-of-two
/// `shift`: `M = multiplier · 2^(shift − 31)`, with `multiplier` in `[2^30, 2^31)`.
///
/// [`apply`](Self::apply) rounds exactly as CMSIS-NN's `arm_nn_requantize` (and gemmlowp):
/// a doubling high multiply rounding half up, then a right shift rounding half away from
/// zero. Only integer arithmetic, so a Cortex-M0 without an FPU gets the host's bits.
///
/// ```
/// use typenet::quant::Requant;
/// let half = Requant::from_real(0.5).unwrap();
/// assert_eq!((half.multiplier, half.shift), (1 << 30, 0));
/// // 3.5 and −3.5: the high multiply rounds halves up, as CMSIS-NN's does.
/// assert_eq!([half.apply(7), half.apply(-7), half.apply(100)], [4, -3, 50]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Requant {
    /// The multiplier's significand, in `[2^30, 2^31)` (or 0 for a multiplier below 2^-32).
    pub multiplier: i32,
    /// The power of two: positive shifts left, negative right (`-31..=30`).
    pub shift: i32,
}

impl Requant {
    /// Bytes in the raw layout: `multiplier` then `shift`, little-endian `i32`s.
    pub const BYTES: usize = 8;

    /// TensorFlow Lite's `QuantizeMultiplier`: the nearest fixed-point form of `real`.
    /// Multipliers below 2^-32 become 0 (the output is the zero point); an error for a
    /// multiplier that is not finite and positive, or 2^30 or more.
    pub fn from_real(real: f64) -> Result<Self, QuantError> {
        if !(real.is_finite() && real > 0.0) {
            return Err(QuantError::Multiplier(real));
        }
        let (significand, exponent) = frexp(real);
        let mut q = super::round(significand * (1u64 << 31) as f64) as i64;
        let mut shift = exponent;
        if q == 1 << 31 {
            q /= 2;
            shift += 1;
        }
        if shift < -31 {
            return Ok(Requant::default());
        }
        if shift > 30 {
            return Err(QuantError::Multiplier(real));
        }
        Ok(Requant {
            multiplier: q as i32,
            shift,
        })
    }

    /// The real multiplier this stands for.
    pub fn real(self) -> f64 {
        self.multiplier as f64 * num_traits::Float::powi(2f64, self.shift - 31)
    }

    /// `acc · M`, rounded as `arm_nn_requantize`. Wrapping where C would overflow, so the
    /// result is the same on every target and nothing panics.
    #[inline]
    pub const fn apply(self, acc: i32) -> i32 {
        let (left, right) = if self.shift > 0 {
            (self.shift, 0)
        } else {
            (0, -self.shift)
        };
        let x = acc.wrapping_mul(1i32.wrapping_shl(left as u32));
        // Doubling high multiply, rounding half up: (x·m + 2^30) >> 31.
        let high = ((x as i64 * self.multiplier as i64 + (1 << 30)) >> 31) as i32;
        divide_by_power_of_two(high, right)
    }

    /// The raw little-endian layout at byte offset `at` (a `const fn`).
    pub const fn from_le_bytes_at(bytes: &[u8], at: usize) -> Self {
        Requant {
            multiplier: crate::bytes::read_i32(bytes, at),
            shift: crate::bytes::read_i32(bytes, at + 4),
        }
    }
}

/// `x / 2^exponent` rounded half away from zero (`arm_nn_divide_by_power_of_two`);
/// `exponent` is in `0..=31`.
#[inline]
const fn divide_by_power_of_two(x: i32, exponent: i32) -> i32 {
    let exponent = (exponent & 31) as u32;
    let mask = (1u32.wrapping_shl(exponent)).wrapping_sub(1) as i32;
    let remainder = x & mask;
    let result = x >> exponent;
    let threshold = (mask >> 1) + (result < 0) as i32;
    result + (remainder > threshold) as i32
}

/// `x = significand · 2^exponent` with `significand` in `[0.5, 1)`, for finite `x > 0`.
fn frexp(x: f64) -> (f64, i32) {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal: scale into the normal range first.
        let (s, e) = frexp(x * 18_446_744_073_709_551_616.0);
        return (s, e - 64);
    }
    let significand = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (significand, biased - 1022)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact value of `acc · M` rounded half away from zero, in f64 (exact for these sizes).
    fn reference(acc: i32, r: Requant) -> i64 {
        let v = acc as f64 * r.multiplier as f64 * 2f64.powi(r.shift - 31);
        v.round() as i64
    }

    #[test]
    fn multipliers_round_trip_to_31_bits() {
        for &m in &[0.5, 0.75, 1.0, 0.000_123, 3.9e-3, 1.5, 1000.0, 2.2e-9] {
            let r = Requant::from_real(m).unwrap();
            assert!((r.multiplier as i64) >= 1 << 30, "{m}: {r:?}");
            assert!(((r.real() - m) / m).abs() < 1e-9, "{m}: {}", r.real());
        }
        assert_eq!(Requant::from_real(1e-12).unwrap(), Requant::default());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e9] {
            assert!(Requant::from_real(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn apply_rounds_as_cmsis_nn() {
        // Double rounding (high multiply, then shift) may differ from one exact rounding by
        // one; CMSIS-NN's own tests accept the same. Exact halves round away from zero.
        let mut rng = crate::Rng::new(7);
        for _ in 0..20_000 {
            let m = 2f64.powf(-20.0 * rng.next_f64()) * (0.5 + rng.next_f64());
            let r = Requant::from_real(m).unwrap();
            let acc = (rng.next_u64() as i64 >> 42) as i32;
            let got = r.apply(acc) as i64;
            assert!((got - reference(acc, r)).abs() <= 1, "{acc}·{m}: {got}");
        }
        // 0.5, 1.5, −0.5, −1.5 round away from zero; 1.25 shows the double rounding
        // (2.5 → 3 in the high multiply, then 1.5 → 2), as gemmlowp and CMSIS-NN give.
        let quarter = Requant::from_real(0.25).unwrap();
        assert_eq!(
            [2, 6, -2, -6, 5].map(|a| quarter.apply(a)),
            [1, 2, -1, -2, 2]
        );
        let four = Requant::from_real(4.0).unwrap();
        assert_eq!(four.apply(-3), -12);
    }
}
