use typenet::prelude::*;

network! {
    struct Net< Conv2d<1, 30, 5>, Relu, MaxPool<2>, Affine<4320, 10>, SoftmaxWithLoss >
}

network! {
    struct AfterAffine< Affine<784, 100>, Conv2d<1, 4, 3>, Affine<4, 10>, SoftmaxWithLoss >
}

fn main() {}
