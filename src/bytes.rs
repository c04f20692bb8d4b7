//! The raw parameter layout, decoded in `const fn`s so weights can live in flash.
//!
//! A raw parameter file is every tensor of a network in declaration order (for each
//! `Affine`: `W` row by row, then `b`), each value little-endian IEEE 754, with no header.
//! [`io::save_raw`](crate::io::save_raw) writes it; the generated `from_le_bytes` reads it
//! with the functions below, at compile time when called in a `static` initialiser. The
//! integer decoders do the same for int8 networks ([`quant`](crate::quant)).
//!
//! ```
//! const BYTES: [u8; 8] = [0, 0, 128, 63, 0, 0, 0, 64]; // 1.0f32, 2.0f32
//! const V: [f32; 2] = typenet::bytes::vector_f32::<2>(&BYTES, 0);
//! assert_eq!(V, [1.0, 2.0]);
//! ```

macro_rules! decoders {
    ($t:ty, $n:literal, $zero:literal, $read:ident, $vector:ident, $matrix:ident) => {
        #[doc = concat!("The little-endian `", stringify!($t), "` at byte offset `at`.")]
        ///
        /// Panics (at compile time, in a `const` context) if `bytes` is too short; the
        /// generated decoders take arrays of exactly the right length, so they never do.
        pub const fn $read(bytes: &[u8], at: usize) -> $t {
            let mut b = [0u8; $n];
            let mut k = 0;
            while k < $n {
                b[k] = bytes[at + k];
                k += 1;
            }
            <$t>::from_le_bytes(b)
        }

        #[doc = concat!("`N` consecutive `", stringify!($t), "` values starting at byte offset `at`.")]
        pub const fn $vector<const N: usize>(bytes: &[u8], at: usize) -> [$t; N] {
            let mut v = [$zero; N];
            let mut i = 0;
            while i < N {
                v[i] = $read(bytes, at + i * $n);
                i += 1;
            }
            v
        }

        #[doc = concat!("An `R`×`C` row-major matrix of `", stringify!($t), "` starting at byte offset `at`.")]
        pub const fn $matrix<const R: usize, const C: usize>(bytes: &[u8], at: usize) -> [[$t; C]; R] {
            let mut m = [[$zero; C]; R];
            let mut r = 0;
            while r < R {
                m[r] = $vector::<C>(bytes, at + r * C * $n);
                r += 1;
            }
            m
        }
    };
}

decoders!(f32, 4, 0.0, read_f32, vector_f32, matrix_f32);
decoders!(f64, 8, 0.0, read_f64, vector_f64, matrix_f64);
decoders!(i8, 1, 0, read_i8, vector_i8, matrix_i8);
decoders!(i32, 4, 0, read_i32, vector_i32, matrix_i32);
