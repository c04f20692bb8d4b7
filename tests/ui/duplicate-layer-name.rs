use typenet::prelude::*;

network! {
    struct Net< hidden: Affine<784, 50>, hidden: Relu, Affine<50, 10>, SoftmaxWithLoss >
}

fn main() {}
