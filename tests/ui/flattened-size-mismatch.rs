use typenet::prelude::*;

network! {
    struct Net< Input<1, 28, 28>, Conv2d<1, 30, 5>, Relu, MaxPool<2>,
                Affine<4000, 100>, Relu, Affine<100, 10>, SoftmaxWithLoss >
}

fn main() {}
