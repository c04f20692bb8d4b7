use typenet::prelude::*;

/// A type that does not implement `typenet::layer::Layer`.
#[derive(Clone, Debug, PartialEq)]
pub struct Shuffle;

network! {
    struct Net< Affine<784, 50>, Shuffle, Affine<50, 10>, SoftmaxWithLoss >
}

fn main() {
    let _ = Net::<f32>::new(1);
}
