//! Weights files (safetensors and raw): whatever loads is finite and is the network's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use typenet::io;
use typenet_fuzz::{finite, Small};

fuzz_target!(|bytes: &[u8]| {
    let path = typenet_fuzz::scratch("weights", bytes);
    for loaded in [
        io::load_safetensors::<f32, Small>(&path),
        io::load_safetensors_ignoring_layers::<f32, Small>(&path),
        io::load_raw::<f32, Small>(&path),
    ] {
        if let Ok(net) = loaded {
            assert!(finite(&net), "a loaded network holds a non-finite value");
            // What loads saves again (nothing in it is refused on the way out).
            let again = typenet_fuzz::scratch("weights-again", &[]);
            io::save_safetensors(&net, &again).expect("a loaded network saves");
        }
    }
});
