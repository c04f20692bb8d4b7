//! What goes in and out of a network: per-sample input shapes and targets.

use core::ops::Mul;
use typenum::{Const, Prod, ToUInt, U};

/// A per-sample input of `N` values, in any shape: `[T; N]`, `[[T; W]; H]` or `[[[T; W]; H]; C]`.
///
/// This is the book's `original_x_shape`: an `Affine<784, _>` layer accepts a batch of
/// `[[f32; 28]; 28]` images, flattens it without copying, and gives the input gradient back
/// in the same shape. The element count is checked by the type system (with `typenum`
/// doing the `H·W` and `C·H·W` products that stable const generics cannot), so a wrong
/// size is a compile error, not a runtime one.
///
/// Multi-dimensional shapes need each dimension and `N` to be a size `typenum` maps
/// (every number up to 1024, and powers of two and ten); a flat `[T; N]` works for any `N`.
///
/// ```
/// use typenet::Sample;
/// let batch = [[[1.0f32; 4]; 3]; 2]; // two 3×4 images
/// let flat: &[[f32; 12]; 2] = <[[f32; 4]; 3] as Sample<f32, 12>>::flatten_batch(&batch);
/// assert_eq!(flat[1].len(), 12);
/// ```
///
/// A sample of the wrong size does not compile:
///
/// ```compile_fail
/// use typenet::Sample;
/// let batch = [[[1.0f32; 4]; 3]; 2];
/// let _ = <[[f32; 4]; 3] as Sample<f32, 13>>::flatten_batch(&batch);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a sample of {N} values",
    label = "this layer takes {N} inputs per sample",
    note = "the per-sample input must hold exactly {N} values of the network's scalar type, as `[T; {N}]` or a 2-D/3-D array with {N} elements"
)]
pub trait Sample<T, const N: usize>: Sized {
    /// Views a batch of samples as a batch of flat rows (no copy).
    fn flatten_batch<const B: usize>(batch: &[Self; B]) -> &[[T; N]; B];
    /// Views a batch of samples as a batch of flat rows, mutably (no copy).
    fn flatten_batch_mut<const B: usize>(batch: &mut [Self; B]) -> &mut [[T; N]; B];
}

impl<T, const N: usize> Sample<T, N> for [T; N] {
    #[inline]
    fn flatten_batch<const B: usize>(batch: &[Self; B]) -> &[[T; N]; B] {
        batch
    }
    #[inline]
    fn flatten_batch_mut<const B: usize>(batch: &mut [Self; B]) -> &mut [[T; N]; B] {
        batch
    }
}

/// `Self` (a `typenum` element count) equals `Count`: implemented only when they are the
/// same type. It exists so that a sample of the wrong size fails on this bound, whose
/// message speaks of the sample and the layer instead of `typenum`'s binary digits.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{S}` is not a sample of {N} values",
    label = "this layer takes {N} inputs per sample",
    note = "the per-sample input must hold exactly {N} values of the network's scalar type, as `[T; {N}]` or a 2-D/3-D array with {N} elements"
)]
pub trait SameCount<S, Count, const N: usize> {}

impl<S, Count, const N: usize> SameCount<S, Count, N> for Count {}

/// Regroups a flat slice whose length the trait bounds have proven to be `B·N`.
#[inline]
fn regroup<T, const N: usize, const B: usize>(flat: &[T]) -> &[[T; N]; B] {
    match flat.as_chunks::<N>().0.try_into() {
        Ok(rows) => rows,
        Err(_) => unreachable!("the element count is checked by the Sample bounds"),
    }
}

#[inline]
fn regroup_mut<T, const N: usize, const B: usize>(flat: &mut [T]) -> &mut [[T; N]; B] {
    match flat.as_chunks_mut::<N>().0.try_into() {
        Ok(rows) => rows,
        Err(_) => unreachable!("the element count is checked by the Sample bounds"),
    }
}

#[diagnostic::do_not_recommend]
impl<T, const H: usize, const W: usize, const N: usize> Sample<T, N> for [[T; W]; H]
where
    Const<H>: ToUInt,
    Const<W>: ToUInt,
    Const<N>: ToUInt,
    U<H>: Mul<U<W>>,
    Prod<U<H>, U<W>>: SameCount<[[T; W]; H], U<N>, N>,
{
    #[inline]
    fn flatten_batch<const B: usize>(batch: &[Self; B]) -> &[[T; N]; B] {
        regroup(batch.as_flattened().as_flattened())
    }
    #[inline]
    fn flatten_batch_mut<const B: usize>(batch: &mut [Self; B]) -> &mut [[T; N]; B] {
        regroup_mut(batch.as_flattened_mut().as_flattened_mut())
    }
}

#[diagnostic::do_not_recommend]
impl<T, const C: usize, const H: usize, const W: usize, const N: usize> Sample<T, N>
    for [[[T; W]; H]; C]
where
    Const<C>: ToUInt,
    Const<H>: ToUInt,
    Const<W>: ToUInt,
    Const<N>: ToUInt,
    U<C>: Mul<U<H>>,
    Prod<U<C>, U<H>>: Mul<U<W>>,
    Prod<Prod<U<C>, U<H>>, U<W>>: SameCount<[[[T; W]; H]; C], U<N>, N>,
{
    #[inline]
    fn flatten_batch<const B: usize>(batch: &[Self; B]) -> &[[T; N]; B] {
        regroup(batch.as_flattened().as_flattened().as_flattened())
    }
    #[inline]
    fn flatten_batch_mut<const B: usize>(batch: &mut [Self; B]) -> &mut [[T; N]; B] {
        regroup_mut(
            batch
                .as_flattened_mut()
                .as_flattened_mut()
                .as_flattened_mut(),
        )
    }
}

/// A class index in `0..N`, checked when it is made, so a loss can never index out of range.
///
/// ```
/// use typenet::Class;
/// assert_eq!(Class::<10>::new(7).map(Class::index), Some(7));
/// assert!(Class::<10>::new(10).is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Class<const N: usize>(u32);

impl<const N: usize> Class<N> {
    /// The class `index`, or `None` if it is not below `N`.
    #[inline]
    pub const fn new(index: usize) -> Option<Self> {
        if index < N && index <= u32::MAX as usize {
            Some(Class(index as u32))
        } else {
            None
        }
    }

    /// The index, always below `N`.
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// A training target for `N` classes: a [`Class`] index or a one-hot (or probability) row `[T; N]`.
///
/// ```
/// use typenet::{Class, Target};
/// let one_hot = [0.0f32, 0.0, 1.0];
/// assert_eq!(Target::<f32, 3>::class(&one_hot), 2);
/// assert_eq!(Target::<f32, 3>::weight(&Class::<3>::new(2).unwrap(), 2), 1.0);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a target for {N} classes",
    label = "the loss layer has {N} classes",
    note = "targets are `Class<{N}>` indices or one-hot rows `[T; {N}]` of the network's scalar type"
)]
pub trait Target<T, const N: usize>: Copy {
    /// The target class (the largest entry of a one-hot row).
    fn class(&self) -> usize;
    /// The target probability of class `k` (`t_k` in the cross-entropy `-Σ t_k log y_k`).
    fn weight(&self, k: usize) -> T;
    /// `Σ_k t_k`: one for a class index, and for any row that is a distribution.
    fn total(&self) -> T;
}

impl<T: crate::Scalar, const N: usize> Target<T, N> for Class<N> {
    #[inline]
    fn class(&self) -> usize {
        self.index()
    }
    #[inline]
    fn weight(&self, k: usize) -> T {
        if k == self.index() {
            T::one()
        } else {
            T::zero()
        }
    }
    #[inline]
    fn total(&self) -> T {
        T::one()
    }
}

impl<T: crate::Scalar, const N: usize> Target<T, N> for [T; N] {
    #[inline]
    fn class(&self) -> usize {
        crate::argmax(self)
    }
    #[inline]
    fn weight(&self, k: usize) -> T {
        self[k]
    }
    #[inline]
    fn total(&self) -> T {
        self.iter().fold(T::zero(), |s, &t| s + t)
    }
}

/// Two slices that must be as long as each other are not: samples and targets, or samples
/// and the rows their scores go to.
///
/// ```
/// let e = typenet::LengthMismatch { samples: 3, other: 2 };
/// assert_eq!(e.to_string(), "3 samples but 2 targets or output rows");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LengthMismatch {
    /// Number of samples.
    pub samples: usize,
    /// Number of targets, or of output rows.
    pub other: usize,
}

impl core::fmt::Display for LengthMismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} samples but {} targets or output rows",
            self.samples, self.other
        )
    }
}

#[cfg(feature = "std")]
impl std::error::Error for LengthMismatch {}

/// `Ok` if `samples` and `other` are equal.
#[doc(hidden)]
pub fn same_length(samples: usize, other: usize) -> Result<(), LengthMismatch> {
    if samples == other {
        Ok(())
    } else {
        Err(LengthMismatch { samples, other })
    }
}
