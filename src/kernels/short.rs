//! Copies and fills of a few values, inline.
//!
//! The packing loops copy runs whose length is only known at run time and rarely exceeds a
//! tile (16 values): a row of a kernel window, a tile's live outputs. `copy_from_slice` and
//! `fill` compile such runs to calls of `memcpy` and `memset`, whose set-up costs more
//! than the copy. These do it with at most two fixed-size moves, overlapping when the length
//! is not a power of two, as `memcpy` does inside; longer runs still go to the library.
//! Nothing here indexes out of range or panics: every move is on a slice checked by `get`.

/// `dst.copy_from_slice(src)` on the first `min(dst.len(), src.len())` values.
#[inline(always)]
pub(super) fn copy<T: Copy>(dst: &mut [T], src: &[T]) {
    let n = dst.len().min(src.len());
    match n {
        0 => {}
        1..=3 => {
            // Positions 0, n/2 and n − 1 cover every value of a run of 1, 2 or 3.
            for i in [0, n / 2, n - 1] {
                if let (Some(d), Some(&s)) = (dst.get_mut(i), src.get(i)) {
                    *d = s;
                }
            }
        }
        4..=7 => {
            copy_block::<T, 4>(dst, src, 0);
            copy_block::<T, 4>(dst, src, n - 4);
        }
        8..=15 => {
            copy_block::<T, 8>(dst, src, 0);
            copy_block::<T, 8>(dst, src, n - 8);
        }
        16..=32 => {
            copy_block::<T, 16>(dst, src, 0);
            copy_block::<T, 16>(dst, src, n - 16);
        }
        _ => {
            if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
                d.copy_from_slice(s);
            }
        }
    }
}

/// `dst.fill(value)`: a [`copy`] from a block of `value`s, for runs it handles inline.
#[inline(always)]
pub(super) fn fill<T: Copy>(dst: &mut [T], value: T) {
    match dst.len() {
        0..=32 => copy(dst, &[value; 32]),
        _ => dst.fill(value),
    }
}

/// `N` values from `at`, if both slices have them.
#[inline(always)]
fn copy_block<T: Copy, const N: usize>(dst: &mut [T], src: &[T], at: usize) {
    let d = dst.get_mut(at..).and_then(|d| d.first_chunk_mut::<N>());
    let s = src.get(at..).and_then(|s| s.first_chunk::<N>());
    if let (Some(d), Some(s)) = (d, s) {
        *d = *s;
    }
}

#[cfg(test)]
mod tests {
    /// Every length up to 40, at every offset into a buffer with guards on both sides.
    #[test]
    fn short_copies_and_fills_write_exactly_their_run() {
        let src: [u32; 48] = core::array::from_fn(|i| i as u32 + 100);
        for n in 0..=40 {
            for at in 0..4 {
                let mut dst = [0u32; 48];
                super::copy(&mut dst[at..at + n], &src[at..at + n]);
                for (i, &v) in dst.iter().enumerate() {
                    let inside = (at..at + n).contains(&i);
                    assert_eq!(v, if inside { src[i] } else { 0 }, "copy of {n} at {at}");
                }
                let mut dst = [0u32; 48];
                super::fill(&mut dst[at..at + n], 7);
                for (i, &v) in dst.iter().enumerate() {
                    let inside = (at..at + n).contains(&i);
                    assert_eq!(v, if inside { 7 } else { 0 }, "fill of {n} at {at}");
                }
            }
        }
    }
}
