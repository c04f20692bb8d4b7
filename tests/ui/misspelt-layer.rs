use typenet::prelude::*;

network! {
    struct Net< Affine<784, 50>, Rleu, Affine<50, 10>, SoftmaxWithLoss >
}

fn main() {}
