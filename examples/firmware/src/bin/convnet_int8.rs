//! The int8 CNN on the emulated Cortex-M4F: integer arithmetic only (the same binary builds
//! for the FPU-less Cortex-M0), weights in flash; exits with status 0 only if every digit's
//! int8 logits equal the host's, bit for bit.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use typenet_firmware::{check_int8_digits, CONVNET_INT8, CONVNET_MACS, EXPECTED_CONVNET_INT8};

#[entry]
fn main() -> ! {
    check_int8_digits(
        "int8 CNN",
        CONVNET_MACS,
        |x| CONVNET_INT8.predict(x),
        &EXPECTED_CONVNET_INT8,
    )
}

typenet_firmware::exit_on_failure!();
