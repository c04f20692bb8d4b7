use typenet::prelude::*;

// One mistake, one message: the layers after an unresolvable one are not blamed for it.
network! {
    struct Net< Affine<784, 50>, Relu<50, 50>, Sigmoid, SoftmaxWithLoss >
}

fn main() {}
