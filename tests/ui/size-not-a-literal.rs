use typenet::prelude::*;

const HIDDEN: usize = 50;

network! {
    struct Net< Affine<784, HIDDEN>, SoftmaxWithLoss >
}

fn main() {}
