//! The `f32` CNN on the emulated Cortex-M4F, weights in flash; exits with status 0 only if
//! every class equals the host's and every score is within `TOLERANCE` of the host's.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use typenet::argmax;
use typenet_firmware::{
    check_digits, Outcome, CONVNET, CONVNET_MACS, DIGITS, EXPECTED_CONVNET, TOLERANCE,
};

#[entry]
fn main() -> ! {
    check_digits(
        "f32 CNN",
        CONVNET_MACS,
        |k| CONVNET.predict(core::array::from_ref(core::hint::black_box(&DIGITS[k])))[0],
        |k, scores| Outcome {
            class: argmax(scores),
            host_class: argmax(&EXPECTED_CONVNET[k]),
            matches: scores
                .iter()
                .zip(&EXPECTED_CONVNET[k])
                .all(|(a, b)| (a - b).abs() <= TOLERANCE),
        },
    )
}

typenet_firmware::exit_on_failure!();
