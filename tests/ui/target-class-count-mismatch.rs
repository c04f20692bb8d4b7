use typenet::prelude::*;

network! {
    struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}

fn main() {
    let net = TwoLayerNet::<f32>::new(0);
    let x = [[0.0f32; 784]; 2];
    let t = [Class::<9>::new(3).unwrap(); 2];
    let _ = net.loss(&x, &t);
}
