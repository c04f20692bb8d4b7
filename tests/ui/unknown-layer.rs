use typenet::prelude::*;

network! {
    struct Net< Affine<784, 50>, Dense<50, 10>, SoftmaxWithLoss >
}

fn main() {}
