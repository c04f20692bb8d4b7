use typenet::prelude::*;

network! {
    struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}

fn main() {
    let net = TwoLayerNet::<f32>::new(0);
    let images = [[[0.0f32; 28]; 27]; 4];
    let _ = net.predict(&images);
}
