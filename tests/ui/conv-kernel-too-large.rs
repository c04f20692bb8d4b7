use typenet::prelude::*;

network! {
    struct Net< Input<1, 8, 8>, Conv2d<1, 4, 9>, Affine<4, 10>, SoftmaxWithLoss >
}

fn main() {}
