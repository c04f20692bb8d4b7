use typenet::prelude::*;

network! {
    struct Net< Affine<784, 50>, SoftmaxWithLoss, Relu >
}

fn main() {}
