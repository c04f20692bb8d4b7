//! The int8 MLP on the emulated Cortex-M4F: integer arithmetic only (the same binary builds
//! for the FPU-less Cortex-M0), weights in flash; exits with status 0 only if every digit's
//! int8 logits equal the host's, bit for bit.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use typenet_firmware::{check_int8_digits, EXPECTED_MLP_INT8, MLP_INT8, MLP_MACS};

#[entry]
fn main() -> ! {
    check_int8_digits(
        "int8 MLP",
        MLP_MACS,
        |x| MLP_INT8.predict(x),
        &EXPECTED_MLP_INT8,
    )
}

typenet_firmware::exit_on_failure!();
