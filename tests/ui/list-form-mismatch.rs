use typenet::prelude::*;

// The list and expression forms are checked as the struct form is.
network![pub Net = Affine<784, 50>, Relu, Affine<40, 10>, SoftmaxWithLoss];

fn main() {
    let _ = network![Affine<784, 50>, Sigmoid<40>, Affine<50, 10>, SoftmaxWithLoss];
    let _ = Net::<f32>::new(1);
}
