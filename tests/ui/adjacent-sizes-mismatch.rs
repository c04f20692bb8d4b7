use typenet::prelude::*;

network! {
    pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<40, 10>, SoftmaxWithLoss >
}

fn main() {}
