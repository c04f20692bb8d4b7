use typenet::prelude::*;

network! {
    struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}

fn main() {
    let net = TwoLayerNet::<f32>::new(0);
    let mut grads = TwoLayerNet::<f64>::zeros();
    let x = [[0.0f32; 784]; 2];
    let t = [Class::new(1).unwrap(); 2];
    let _ = net.gradient(&x, &t, &mut TwoLayerNet::new_cache(), &mut grads);
}
