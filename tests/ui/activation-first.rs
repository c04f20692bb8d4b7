use typenet::prelude::*;

network! {
    struct Net< Relu, Affine<784, 10>, SoftmaxWithLoss >
}

fn main() {}
