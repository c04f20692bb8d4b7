use typenet::prelude::*;

network! {
    struct Net< Input<1, 28, 28>, Conv2d<3, 30, 5>, Relu, MaxPool<2>, Affine<4320, 10>, SoftmaxWithLoss >
}

fn main() {}
