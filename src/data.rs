//! In-memory labelled datasets (feature `alloc`), and the sources a trainer draws its
//! samples from: slices of samples, or byte images scaled as they are drawn.

use crate::Scalar;
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

/// Images (or any fixed-size samples) with one class label each, stored flat.
///
/// A dataset knows its sample shape only at run time (it comes from a file); a network
/// knows its input size at compile time. [`Dataset::check_for`] is where the two meet,
/// with an error rather than a panic when they differ.
///
/// ```
/// use typenet::data::Dataset;
/// let data = Dataset::new(vec![0.0f32; 2 * 6], vec![1, 0], [2, 3]).unwrap();
/// assert_eq!((data.len(), data.sample_len()), (2, 6));
/// assert!(Dataset::new(vec![0.0f32; 12], vec![1], [2, 3]).is_err()); // 2 images, 1 label
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<T> {
    values: Vec<T>,
    labels: Vec<u8>,
    shape: [usize; 2],
}

/// Why a dataset cannot be used as asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataError {
    /// The number of values is not `samples × rows × cols`, or images and labels differ in count.
    CountMismatch {
        /// Number of samples the values make.
        images: usize,
        /// Number of labels.
        labels: usize,
    },
    /// The samples do not have the size the network takes.
    SampleSize {
        /// Values per sample the network takes.
        expected: usize,
        /// Sample shape of the data (rows, cols).
        found: [usize; 2],
    },
    /// A label is not a class of the network.
    LabelOutOfRange {
        /// Position of the sample.
        index: usize,
        /// Its label.
        label: u8,
        /// Number of classes of the network.
        classes: usize,
    },
    /// A value is NaN or infinite.
    NotFinite {
        /// Position of the sample.
        index: usize,
    },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::CountMismatch { images, labels } => {
                write!(f, "{images} images but {labels} labels")
            }
            DataError::SampleSize { expected, found } => write!(
                f,
                "samples are {}×{} = {} values but the network takes {expected}",
                found[0],
                found[1],
                found[0] * found[1]
            ),
            DataError::LabelOutOfRange {
                index,
                label,
                classes,
            } => write!(
                f,
                "sample {index} has label {label}, outside the network's {classes} classes (0..{classes})"
            ),
            DataError::NotFinite { index } => write!(f, "sample {index} holds a NaN or infinite value"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DataError {}

/// Samples and labels in a network's own types, as [`Dataset::check_for`] returns them.
pub type Examples<'a, T, N> = (
    &'a [<N as crate::Network<T>>::Sample],
    Vec<<N as crate::Network<T>>::Label>,
);

/// Byte images and labels in a network's own types, as [`Dataset::pixels_for`] returns them.
pub type PixelExamples<'a, T, N> = (
    Pixels<'a, <N as crate::Network<T>>::Sample>,
    Vec<<N as crate::Network<T>>::Label>,
);

impl<T: Copy> Dataset<T> {
    /// Checks that `values` make `labels.len()` samples of shape `[rows, cols]`.
    fn counted(values: Vec<T>, labels: Vec<u8>, shape: [usize; 2]) -> Result<Self, DataError> {
        let per = shape[0] * shape[1];
        let images = values.len().checked_div(per).unwrap_or(0);
        if per == 0 || !values.len().is_multiple_of(per) || images != labels.len() {
            return Err(DataError::CountMismatch {
                images,
                labels: labels.len(),
            });
        }
        Ok(Dataset {
            values,
            labels,
            shape,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Sample shape `[rows, cols]`.
    pub fn shape(&self) -> [usize; 2] {
        self.shape
    }

    /// Values per sample.
    pub fn sample_len(&self) -> usize {
        self.shape[0] * self.shape[1]
    }

    /// Every value, sample after sample.
    pub fn values(&self) -> &[T] {
        &self.values
    }

    /// The labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The first `n` samples (all of them if there are fewer).
    pub fn take(&self, n: usize) -> Self {
        let n = n.min(self.len());
        Dataset {
            values: self.values[..n * self.sample_len()].to_vec(),
            labels: self.labels[..n].to_vec(),
            shape: self.shape,
        }
    }

    /// Labels as network `N`'s classes, or the first that is out of range.
    fn labels_for<S: Scalar, N: crate::Network<S>>(&self) -> Result<Vec<N::Label>, DataError> {
        self.labels
            .iter()
            .enumerate()
            .map(|(index, &label)| {
                N::label(label as usize).ok_or(DataError::LabelOutOfRange {
                    index,
                    label,
                    classes: N::CLASSES,
                })
            })
            .collect()
    }

    /// The error for samples that are not network `N`'s size, if they are not.
    fn size_for<S: Scalar, N: crate::Network<S>>(&self) -> Result<(), DataError> {
        if self.sample_len() == N::INPUTS {
            Ok(())
        } else {
            Err(DataError::SampleSize {
                expected: N::INPUTS,
                found: self.shape,
            })
        }
    }
}

impl<T: Scalar> Dataset<T> {
    /// A dataset of `labels.len()` samples of shape `[rows, cols]`, values stored flat.
    pub fn new(values: Vec<T>, labels: Vec<u8>, shape: [usize; 2]) -> Result<Self, DataError> {
        let per = shape[0] * shape[1];
        let data = Dataset::counted(values, labels, shape)?;
        if let Some(pos) = data.values.iter().position(|v| !v.is_finite()) {
            return Err(DataError::NotFinite { index: pos / per });
        }
        Ok(data)
    }

    /// Checks that the data fits network `N` (sample size, labels) and returns its samples
    /// and labels as the network's types.
    ///
    /// ```
    /// use typenet::{data::{Dataset, DataError}, prelude::*};
    /// network! { struct Net< Affine<6, 2>, SoftmaxWithLoss > }
    /// let data = Dataset::new(vec![0.5f32; 12], vec![1, 0], [2, 3]).unwrap();
    /// let (x, t) = data.check_for::<Net>().unwrap();
    /// assert_eq!((x.len(), t[0].index()), (2, 1));
    ///
    /// let bad = Dataset::new(vec![0.5f32; 12], vec![1, 7], [2, 3]).unwrap();
    /// assert_eq!(bad.check_for::<Net>().unwrap_err(),
    ///            DataError::LabelOutOfRange { index: 1, label: 7, classes: 2 });
    /// ```
    pub fn check_for<N: crate::Network<T>>(&self) -> Result<Examples<'_, T, N>, DataError> {
        self.size_for::<T, N>()?;
        let samples = N::as_samples(&self.values).ok_or(DataError::SampleSize {
            expected: N::INPUTS,
            found: self.shape,
        })?;
        Ok((samples, self.labels_for::<T, N>()?))
    }
}

pub(crate) use crate::kernels::pixel;

/// `1/255` in `T`, the factor of [`pixel`].
#[inline(always)]
pub(crate) fn pixel_scale<T: Scalar>() -> T {
    T::from_f64(1.0 / 255.0)
}

impl Dataset<u8> {
    /// A dataset of byte images (pixels `0..=255`), as the IDX files store them: a quarter of
    /// the memory of `f32` samples. [`Dataset::pixels_for`] reads them scaled to `[0, 1]`.
    ///
    /// ```
    /// use typenet::data::Dataset;
    /// let data = Dataset::from_pixels(vec![0u8, 255, 51, 0], vec![1, 0], [1, 2]).unwrap();
    /// // b · (1/255): 51 becomes 0.20000002 in f32, as load_mnist reads it.
    /// assert_eq!(data.scaled::<f32>().values(), &[0.0, 1.0, 51.0 * (1.0 / 255.0), 0.0]);
    /// assert!(Dataset::from_pixels(vec![0u8; 3], vec![1, 0], [1, 2]).is_err());
    /// ```
    pub fn from_pixels(
        values: Vec<u8>,
        labels: Vec<u8>,
        shape: [usize; 2],
    ) -> Result<Self, DataError> {
        Dataset::counted(values, labels, shape)
    }

    /// The same dataset with every pixel scaled to `[0, 1]` (the values
    /// [`load_mnist`](crate::io::load_mnist) gives).
    pub fn scaled<T: Scalar>(&self) -> Dataset<T> {
        let scale = pixel_scale::<T>();
        Dataset {
            values: self.values.iter().map(|&b| pixel(b, scale)).collect(),
            labels: self.labels.clone(),
            shape: self.shape,
        }
    }

    /// Checks that the images fit network `N` (sample size, labels) and returns them as a
    /// [`Pixels`] source, which a [`Trainer`](crate::train::Trainer) scales to `[0, 1]` as
    /// it draws each batch, with the labels as the network's classes.
    ///
    /// ```
    /// use typenet::{data::Dataset, prelude::*, train::Trainer};
    /// network! { struct Net< Affine<4, 2>, SoftmaxWithLoss > }
    /// let data = Dataset::from_pixels(vec![255, 0, 0, 0, 0, 0, 0, 255], vec![0, 1], [2, 2]).unwrap();
    /// let (x, t) = data.pixels_for::<f32, Net<f32>>().unwrap();
    /// let mut trainer = Trainer::<f32, _, _, 2>::new(Net::zeros(), Sgd::new(0.5), 1);
    /// for _ in 0..50 {
    ///     trainer.step(&x, &t).unwrap();
    /// }
    /// let scaled = data.scaled::<f32>();
    /// let (xs, ts) = scaled.check_for::<Net<f32>>().unwrap();
    /// assert_eq!(typenet::train::accuracy(trainer.net(), xs, &ts), 1.0);
    ///
    /// assert!(data.pixels_for::<f32, Net<f32>>().is_ok());
    /// network! { struct Wide< Affine<9, 2>, SoftmaxWithLoss > }
    /// assert!(data.pixels_for::<f32, Wide<f32>>().is_err()); // 4 pixels per image, not 9
    /// ```
    pub fn pixels_for<T: Scalar, N: crate::Network<T>>(
        &self,
    ) -> Result<PixelExamples<'_, T, N>, DataError> {
        self.size_for::<T, N>()?;
        let pixels = Pixels {
            bytes: &self.values,
            sample: PhantomData,
        };
        Ok((pixels, self.labels_for::<T, N>()?))
    }
}

/// Where a [`Trainer`](crate::train::Trainer) draws samples of type `S` from, by index.
///
/// Implemented for slices, arrays and vectors of samples (copied as they are) and for
/// [`Pixels`] (byte images, scaled as they are drawn).
///
/// ```
/// use typenet::data::Samples;
/// let x = [[1.0f32, 2.0], [3.0, 4.0]];
/// let mut out = [0.0; 2];
/// assert!(x.read_into(1, &mut out));
/// assert_eq!((Samples::len(&x), out), (2, [3.0, 4.0]));
/// assert!(!x.read_into(2, &mut out)); // no sample 2
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a source of `{S}` samples",
    label = "the network takes `{S}` per sample",
    note = "pass a slice, array or `Vec` of `{S}`, or byte images as `typenet::data::Pixels` (`Dataset::pixels_for`)"
)]
pub trait Samples<S> {
    /// Number of samples.
    fn len(&self) -> usize;

    /// Whether there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes sample `index` to `out`; `false` (and `out` unchanged) if there is none.
    fn read_into(&self, index: usize, out: &mut S) -> bool;

    /// A hint that sample `index` will be read soon: touches its memory so that the cache
    /// and TLB misses of a whole batch overlap, instead of coming one sample after another.
    /// Does nothing by default, and nothing for an index out of range.
    ///
    /// Measured on 100 random rows of 60,000 images
    /// (`cargo bench --bench typenet -- draw_batch`): copying `f32` rows takes 31 µs alone
    /// and 29 µs after touching each row's ends; scaling byte rows, 23 µs alone and 15 µs
    /// after touching each of their cache lines.
    #[inline]
    fn prefetch(&self, index: usize) {
        let _ = index;
    }

    /// Copies sample `picks[j]` into `out[j]` for every `j` (as many as both have), after
    /// [prefetching](Self::prefetch) them all; `false` if an index is out of range.
    ///
    /// This is how a [`Trainer`](crate::train::Trainer) draws its batches. Inside
    /// `parallel::keep_awake` (feature `parallel`), a batch of 64 KiB or
    /// more is gathered in two halves on two threads: the halves the first layer's forward
    /// pass splits, so each thread finds its rows in its own cache.
    ///
    /// ```
    /// use typenet::data::Samples;
    /// let x = vec![[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]];
    /// let mut batch = [[0.0; 2]; 2];
    /// assert!(x.gather(&[2, 0], &mut batch));
    /// assert_eq!(batch, [[5.0, 6.0], [1.0, 2.0]]);
    /// assert!(!x.gather(&[3, 0], &mut batch)); // no sample 3
    /// ```
    fn gather(&self, picks: &[usize], out: &mut [S]) -> bool
    where
        Self: Sync,
        S: Send,
    {
        let n = picks.len().min(out.len());
        let (picks, out) = (&picks[..n], &mut out[..n]);
        #[cfg(feature = "parallel")]
        if core::mem::size_of_val(out) >= 1 << 16 && crate::parallel::is_awake() {
            let half = crate::parallel::half(n);
            let (out_lo, out_hi) = out.split_at_mut(half);
            let (lo, hi) = rayon::join(
                || gather_here(self, &picks[..half], out_lo),
                || gather_here(self, &picks[half..], out_hi),
            );
            return lo && hi;
        }
        gather_here(self, picks, out)
    }
}

/// [`Samples::gather`] on this thread.
fn gather_here<S, X: Samples<S> + ?Sized>(x: &X, picks: &[usize], out: &mut [S]) -> bool {
    for &k in picks {
        x.prefetch(k);
    }
    picks.iter().zip(out).all(|(&k, o)| x.read_into(k, o))
}

/// Bytes per cache line, the stride of [`Samples::prefetch`].
const LINE: usize = 64;

/// Reads the first and the last value of `values`: their pages' translations and first
/// lines, after which a wide copy streams the rest with the hardware prefetcher.
#[inline(always)]
fn touch_ends<T: Copy>(values: &[T]) {
    if let (Some(a), Some(b)) = (values.first(), values.last()) {
        core::hint::black_box(*a);
        core::hint::black_box(*b);
    }
}

/// Reads one value per cache line of `values`, so that their misses are in flight together.
#[inline(always)]
fn touch<T: Copy>(values: &[T]) {
    for v in values
        .iter()
        .step_by((LINE / core::mem::size_of::<T>()).max(1))
    {
        core::hint::black_box(*v);
    }
}

/// Any slice, array or vector of samples (anything that is a slice of them), copied as it is.
#[diagnostic::do_not_recommend]
impl<T: Copy, const N: usize, C: AsRef<[[T; N]]> + ?Sized> Samples<[T; N]> for C {
    #[inline]
    fn len(&self) -> usize {
        self.as_ref().len()
    }

    #[inline]
    fn read_into(&self, index: usize, out: &mut [T; N]) -> bool {
        self.as_ref().get(index).map(|s| *out = *s).is_some()
    }

    #[inline]
    fn prefetch(&self, index: usize) {
        if let Some(s) = self.as_ref().get(index) {
            touch_ends(s);
        }
    }
}

/// Byte images read as samples of type `S` (`[T; N]`), each pixel scaled to `[0, 1]` as
/// the sample is drawn: the same values as [`load_mnist`](crate::io::load_mnist) gives,
/// from a quarter of the memory. Drawing a batch reads a quarter of the bytes a batch of
/// `f32` samples would (for the book's network: 78 KB instead of 313 KB per batch of 100).
///
/// Made by [`Dataset::pixels_for`], which checks the image size against the network.
pub struct Pixels<'a, S> {
    bytes: &'a [u8],
    sample: PhantomData<fn() -> S>,
}

impl<S> Clone for Pixels<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Pixels<'_, S> {}

impl<S> fmt::Debug for Pixels<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pixels")
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl<T: Scalar, const N: usize> Samples<[T; N]> for Pixels<'_, [T; N]> {
    #[inline]
    fn len(&self) -> usize {
        self.bytes.len().checked_div(N).unwrap_or(0)
    }

    #[inline]
    fn read_into(&self, index: usize, out: &mut [T; N]) -> bool {
        let start = index.saturating_mul(N);
        let Some(row) = self.bytes.get(start..start.saturating_add(N)) else {
            return false;
        };
        crate::kernels::scale_bytes(row, out, pixel_scale::<T>());
        true
    }

    #[inline]
    fn prefetch(&self, index: usize) {
        let start = index.saturating_mul(N);
        if let Some(row) = self.bytes.get(start..start.saturating_add(N)) {
            touch(row);
        }
    }
}
