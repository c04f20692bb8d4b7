use typenet::prelude::*;

// Three independent mistakes: all three are reported in one build.
network! {
    struct Net< Affine<784, 50>, Affine<40, 30>, Relu<20>, Affine<30, 10>, Affine<10, 0>, SoftmaxWithLoss >
}

fn main() {}
