use typenet::prelude::*;

network! {
    struct Net< Affine<784>, SoftmaxWithLoss >
}

fn main() {}
