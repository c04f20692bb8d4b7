use typenet::prelude::*;

network! {
    struct Net< Affine<784, 50>, Affine<100, 10>, SoftmaxWithLoss >
}

fn main() {}
