use typenet::prelude::*;

network! {
    pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}

// A parameter file for another network (here: 1,000 bytes) cannot become this one.
const BYTES: &[u8; 1000] = &[0; 1000];
static NET: TwoLayerNet<f32> = TwoLayerNet::<f32>::from_le_bytes(BYTES);

fn main() {
    let _ = &NET;
}
