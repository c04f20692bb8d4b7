use typenet::prelude::*;
use typenet::train::Trainer;

network! {
    struct Net< Affine<4, 3>, Relu, Affine<3, 2>, SoftmaxWithLoss >
}

fn main() {
    let mut trainer = Trainer::<f32, Net, _, 2>::new(Net::new(1), Sgd::new(0.1), 1);
    let x = vec![[0.0f32; 5]; 10]; // five values per sample, not four
    let t = vec![Class::<2>::new(0).unwrap(); 10];
    let _ = trainer.step(&x, &t);
}
