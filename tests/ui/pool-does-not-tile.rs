use typenet::prelude::*;

network! {
    struct Net< Input<1, 29, 29>, Conv2d<1, 30, 5>, Relu, MaxPool<2>, Affine<4320, 10>, SoftmaxWithLoss >
}

fn main() {}
