//! The scalar computational graph of section 5.4: one multiply node and one add node.
//!
//! These are the book's `MulLayer` and `AddLayer`, kept as the smallest possible
//! illustration of the chain rule: each node remembers what its backward pass needs
//! and turns the upstream derivative into one derivative per input.
//!
//! ```
//! use typenet::graph::{AddLayer, MulLayer};
//! // Buying 2 apples at 100 with 10 % tax.
//! let (mut apple, mut tax) = (MulLayer::new(), MulLayer::new());
//! let price = tax.forward(apple.forward(100.0, 2.0), 1.1);
//! assert!((price - 220.0f64).abs() < 1e-9);
//! let (dapple_price, dtax) = tax.backward(1.0);
//! let (dapple, dapple_num) = apple.backward(dapple_price);
//! assert!((dapple - 2.2).abs() < 1e-9 && (dapple_num - 110.0).abs() < 1e-9 && (dtax - 200.0).abs() < 1e-9);
//! # let _ = AddLayer::new();
//! ```

use num_traits::Float;

/// Multiplication node: `out = x · y`; backward `(dout · y, dout · x)`.
///
/// ```
/// let mut node = typenet::graph::MulLayer::new();
/// assert_eq!(node.forward(3.0, 4.0), 12.0);
/// assert_eq!(node.backward(1.0), (4.0, 3.0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MulLayer<T = f64> {
    x: T,
    y: T,
}

impl<T: Float> MulLayer<T> {
    /// A node with nothing remembered yet.
    pub fn new() -> Self {
        MulLayer {
            x: T::zero(),
            y: T::zero(),
        }
    }

    /// Remembers both inputs and returns their product.
    pub fn forward(&mut self, x: T, y: T) -> T {
        self.x = x;
        self.y = y;
        x * y
    }

    /// The derivatives with respect to `x` and `y`: each input's partner times `dout`.
    pub fn backward(&self, dout: T) -> (T, T) {
        (dout * self.y, dout * self.x)
    }
}

/// Addition node: `out = x + y`; backward passes `dout` to both inputs unchanged.
///
/// ```
/// let mut node = typenet::graph::AddLayer::new();
/// assert_eq!(node.forward(3.0, 4.0), 7.0);
/// assert_eq!(node.backward(2.0), (2.0, 2.0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AddLayer;

impl AddLayer {
    /// An addition node (it needs to remember nothing).
    pub fn new() -> Self {
        AddLayer
    }

    /// Returns `x + y`.
    pub fn forward<T: Float>(&mut self, x: T, y: T) -> T {
        x + y
    }

    /// The derivatives with respect to `x` and `y`: both equal `dout`.
    pub fn backward<T: Float>(&self, dout: T) -> (T, T) {
        (dout, dout)
    }
}
