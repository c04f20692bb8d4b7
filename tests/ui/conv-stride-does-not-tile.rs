use typenet::prelude::*;

network! {
    struct Net< Input<1, 28, 28>, Conv2d<1, 8, 5, 2, 0>, Relu, Affine<1152, 10>, SoftmaxWithLoss >
}

fn main() {}
