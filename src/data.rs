//! In-memory labelled datasets (feature `alloc`).

use crate::Scalar;
use alloc::vec::Vec;
use core::fmt;

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

impl<T: Scalar> Dataset<T> {
    /// A dataset of `labels.len()` samples of shape `[rows, cols]`, values stored flat.
    pub fn new(values: Vec<T>, labels: Vec<u8>, shape: [usize; 2]) -> Result<Self, DataError> {
        let per = shape[0] * shape[1];
        let images = values.len().checked_div(per).unwrap_or(0);
        if per == 0 || !values.len().is_multiple_of(per) || images != labels.len() {
            return Err(DataError::CountMismatch {
                images,
                labels: labels.len(),
            });
        }
        if let Some(pos) = values.iter().position(|v| !v.is_finite()) {
            return Err(DataError::NotFinite { index: pos / per });
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
        let wrong_size = DataError::SampleSize {
            expected: N::INPUTS,
            found: self.shape,
        };
        if self.sample_len() != N::INPUTS {
            return Err(wrong_size);
        }
        let samples = N::as_samples(&self.values).ok_or(wrong_size)?;
        let labels = self
            .labels
            .iter()
            .enumerate()
            .map(|(index, &label)| {
                N::label(label as usize).ok_or(DataError::LabelOutOfRange {
                    index,
                    label,
                    classes: N::CLASSES,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((samples, labels))
    }
}
