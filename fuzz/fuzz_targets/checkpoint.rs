//! Checkpoints: whatever loads is finite and its optimizer state valid, and a step from it
//! is finite whenever `step_into` says so.
#![no_main]

use libfuzzer_sys::fuzz_target;
use typenet::io;
use typenet::prelude::*;
use typenet_fuzz::{finite, Small};

fn check<O: Optimizer<f32, Small> + Clone>(path: &std::path::Path, mut optimizer: O) {
    if let Ok(ckpt) = io::load_checkpoint::<f32, Small, _>(path, &mut optimizer) {
        assert!(
            finite(&ckpt.net),
            "a loaded checkpoint holds a non-finite parameter"
        );
        assert!(
            optimizer.validate().is_ok(),
            "a loaded optimizer state is invalid"
        );
        assert!(optimizer.slots().iter().all(finite));
        let (net, mut next, mut grads) = (ckpt.net, optimizer.clone(), Small::new(1));
        if optimizer.step_into(&net, &mut grads, &mut next) {
            assert!(finite(&grads) && next.slots().iter().all(finite));
        }
    }
}

fuzz_target!(|bytes: &[u8]| {
    let path = typenet_fuzz::scratch("checkpoint", bytes);
    check(&path, Sgd::new(0.1f32));
    check(&path, Adam::<f32, Small>::default());
    check(
        &path,
        AnyOptimizer::<f32, Small>::by_name("rmsprop", None).unwrap(),
    );
});
