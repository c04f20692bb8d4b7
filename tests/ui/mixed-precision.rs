use typenet::prelude::*;

network! {
    struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}

fn main() {
    let net = TwoLayerNet::<f32>::new(0);
    let x = [[0.0f64; 784]; 2];
    let _ = net.predict(&x);
}
