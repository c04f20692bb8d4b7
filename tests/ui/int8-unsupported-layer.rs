use typenet::prelude::*;

network! {
    struct Net< Affine<784, 50>, Sigmoid, Affine<50, 10>, SoftmaxWithLoss >
}

fn main() {
    let net = Net::<f32>::new(1);
    let _ = net.quantize(&[[0.5f32; 784]]);
}
