//! [`Rows`]: one batch of activations in a network's cache.

use crate::layer::Tensor;
use crate::Scalar;
use core::ops::{Deref, DerefMut};

/// A batch of `B` samples of type `S` (one layer's outputs, or their gradients): the
/// buffers of a network's cache.
///
/// It dereferences to `[S; B]`. With the `alloc` feature the values live on the heap, so
/// a cache of any size can be made without passing through the stack (a convolutional
/// network's batch of 100 is megabytes); without it they are inline, and a cache can be a
/// `static` or a local. Either way a training step allocates nothing: the cache is made
/// once and reused.
///
/// ```
/// use typenet::Rows;
/// let mut rows = Rows::<[f32; 3], 2>::zeros();
/// rows[1][2] = 1.0;
/// assert_eq!(*rows, [[0.0; 3], [0.0, 0.0, 1.0]]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Rows<S, const B: usize> {
    #[cfg(feature = "alloc")]
    rows: alloc::boxed::Box<[S; B]>,
    #[cfg(not(feature = "alloc"))]
    rows: [S; B],
}

impl<S, const B: usize> Rows<S, B> {
    /// `B` samples of zeros.
    pub fn zeros<T: Scalar>() -> Self
    where
        S: Tensor<T>,
    {
        #[cfg(feature = "alloc")]
        {
            // Built on the heap: a `Box::new([…; B])` may pass through the stack.
            let rows = alloc::vec![S::zero(); B].into_boxed_slice();
            match rows.try_into() {
                Ok(rows) => Rows { rows },
                Err(_) => unreachable!("a vector of B rows is B rows long"),
            }
        }
        #[cfg(not(feature = "alloc"))]
        {
            Rows {
                rows: [S::zero(); B],
            }
        }
    }
}

impl<S, const B: usize> Deref for Rows<S, B> {
    type Target = [S; B];
    #[inline]
    fn deref(&self) -> &[S; B] {
        &self.rows
    }
}

impl<S, const B: usize> DerefMut for Rows<S, B> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [S; B] {
        &mut self.rows
    }
}
