use typenet::prelude::*;

// A wrong size is reported once: the uses of the network after it add nothing.
network! {
    struct Net< Affine<784, 50>, Relu, Affine<40, 10>, SoftmaxWithLoss >
}

fn main() {
    let net = Net::<f32>::new(1);
    let scores: [[f32; 10]; 1] = net.predict(&[[0.0f32; 784]]);
    let mut grads = Net::zeros();
    let _ = net.gradient(&[[0.0f32; 784]], &[Class::<10>::new(0).unwrap()], &mut Net::new_cache::<1>(), &mut grads);
    let _ = scores;
}
