//! The int8 dot products behind [`quant`](crate::quant): `Σ w·x` of int8 rows against one
//! int8 vector, in `i32`.
//!
//! Integer sums are exact, so every path gives the same bits. On a Cortex-M4/M7 (targets
//! `thumbv7em-*`, which always have the DSP extension; the build script sets
//! `typenet_dsp`), the rows run on `SMLAD`, two 16-bit multiply-adds per instruction: the
//! vector is widened to 16 bits once, in the order `SXTB16` unpacks a word of weights
//! (bytes 0 and 2, then 1 and 3), so each four weights cost one load, two `SXTB16` and two
//! `SMLAD`, and rows go four at a time to share the vector's loads. Elsewhere the portable
//! loop runs, which LLVM vectorises.

/// `Σ_i w[r][i]·x[i]` for every row `r`, passed to `out(r, sum)` in row order.
#[inline]
pub fn dot_rows<const N: usize>(w: &[[i8; N]], x: &[i8; N], mut out: impl FnMut(usize, i32)) {
    #[cfg(typenet_dsp)]
    dsp::dot_rows(w, x, &mut out);
    #[cfg(not(typenet_dsp))]
    for (r, row) in w.iter().enumerate() {
        out(r, dot(row, x));
    }
}

/// `Σ w·x` of two int8 slices (the shorter's length), in `i32`.
#[inline]
pub fn dot(w: &[i8], x: &[i8]) -> i32 {
    w.iter()
        .zip(x)
        .fold(0i32, |acc, (&w, &x)| acc.wrapping_add(w as i32 * x as i32))
}

#[cfg(typenet_dsp)]
#[allow(unsafe_code)]
mod dsp {
    use core::arch::asm;

    /// The two sign-extended bytes 0 and 2 of `x`, as the halves of a word.
    #[inline(always)]
    fn sxtb16(x: u32) -> u32 {
        let r: u32;
        // SAFETY: a register-to-register instruction of every ARMv7E-M core (the only
        // targets that compile this module): no memory, no stack, no flags.
        unsafe {
            asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x, options(pure, nomem, nostack, preserves_flags))
        };
        r
    }

    /// Bytes 1 and 3 of `x`, sign-extended, as the halves of a word.
    #[inline(always)]
    fn sxtb16_ror8(x: u32) -> u32 {
        let r: u32;
        // SAFETY: as `sxtb16`.
        unsafe {
            asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x, options(pure, nomem, nostack, preserves_flags))
        };
        r
    }

    /// `acc + a.lo·b.lo + a.hi·b.hi`, 16-bit halves, wrapping as `i32` addition does.
    #[inline(always)]
    fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        let r: i32;
        // SAFETY: as `sxtb16`; `SMLAD` sets the sticky Q flag on overflow, which nothing
        // here reads (`preserves_flags` is about N, Z, C, V).
        unsafe {
            asm!("smlad {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack, preserves_flags))
        };
        r
    }

    fn word(b: &[i8]) -> u32 {
        match b {
            [a, b, c, d, ..] => u32::from_le_bytes([*a as u8, *b as u8, *c as u8, *d as u8]),
            _ => 0,
        }
    }

    fn pair(h: &[i16]) -> u32 {
        match h {
            [a, b, ..] => (*a as u16 as u32) | ((*b as u16 as u32) << 16),
            _ => 0,
        }
    }

    /// Rows in a block: the accumulators and the widened vector's two words stay in
    /// registers.
    const ROWS: usize = 4;

    pub(super) fn dot_rows<const N: usize>(
        w: &[[i8; N]],
        x: &[i8; N],
        out: &mut impl FnMut(usize, i32),
    ) {
        let whole = N / 4 * 4;
        let mut spread = [0i16; N];
        // Widen once: each four bytes become (x0, x2), (x1, x3).
        for (s, b) in spread
            .as_chunks_mut::<4>()
            .0
            .iter_mut()
            .zip(x.as_chunks::<4>().0)
        {
            let v = word(b);
            let (even, odd) = (sxtb16(v), sxtb16_ror8(v));
            *s = [
                even as i16,
                (even >> 16) as i16,
                odd as i16,
                (odd >> 16) as i16,
            ];
        }
        let tail = x.get(whole..).unwrap_or(&[]);
        let (blocks, remainder) = w.as_chunks::<ROWS>();
        let mut r = 0;
        for block in blocks {
            let mut acc = [0i32; ROWS];
            let words = block.each_ref().map(|row| row.as_chunks::<4>().0);
            for (k, s) in spread.as_chunks::<4>().0.iter().enumerate() {
                let (even, odd) = (pair(&s[..2]), pair(&s[2..]));
                for (a, row) in acc.iter_mut().zip(&words) {
                    let v = row
                        .get(k)
                        .map_or(0, |b| u32::from_le_bytes(b.map(|v| v as u8)));
                    *a = smlad(sxtb16_ror8(v), odd, smlad(sxtb16(v), even, *a));
                }
            }
            for (a, row) in acc.iter().zip(block) {
                out(
                    r,
                    a.wrapping_add(super::dot(row.get(whole..).unwrap_or(&[]), tail)),
                );
                r += 1;
            }
        }
        for row in remainder {
            let mut a = 0i32;
            for (k, s) in spread.as_chunks::<4>().0.iter().enumerate() {
                let v = word(row.get(4 * k..).unwrap_or(&[]));
                a = smlad(
                    sxtb16_ror8(v),
                    pair(&s[2..]),
                    smlad(sxtb16(v), pair(&s[..2]), a),
                );
            }
            out(
                r,
                a.wrapping_add(super::dot(row.get(whole..).unwrap_or(&[]), tail)),
            );
            r += 1;
        }
    }
}
