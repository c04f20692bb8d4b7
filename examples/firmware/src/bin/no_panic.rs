//! A link-time proof that inference cannot panic.
//!
//! This binary runs the inference of `digits`, `mlp_int8`, `convnet` and `convnet_int8`
//! (predict + argmax on digits the optimiser cannot see through), but its panic handler
//! calls a function that exists nowhere. If any panic were reachable from inference (an index out of bounds, an
//! `unwrap`, an overflow check, a slice length mismatch), the linker would have to resolve
//! that function and the build would fail with `undefined symbol:
//! typenet_inference_can_panic`. The build succeeding is the proof; the run only exits.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use typenet::{argmax, quant::argmax_i8};
use typenet_firmware::{exit, CONVNET, CONVNET_INT8, DIGITS, DIGITS_INT8, MLP_INT8, NET};

#[entry]
fn main() -> ! {
    let mut classes = [[0usize; 4]; 10];
    for ((c, x), q) in classes.iter_mut().zip(&DIGITS).zip(&DIGITS_INT8) {
        let (x, q) = (core::hint::black_box(x), core::hint::black_box(q));
        *c = [
            argmax(&NET.predict(core::array::from_ref(x))[0]),
            argmax_i8(&MLP_INT8.predict(q)),
            argmax(&CONVNET.predict(core::array::from_ref(x))[0]),
            argmax_i8(&CONVNET_INT8.predict(q)),
        ];
    }
    core::hint::black_box(classes);
    exit(true)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    extern "C" {
        /// Defined nowhere: referencing it makes any reachable panic a link error.
        fn typenet_inference_can_panic() -> !;
    }
    // SAFETY: never executed. The call only exists to make the link fail when a panic is
    // reachable; in a successful build the optimiser has removed every path to it.
    unsafe { typenet_inference_can_panic() }
}
