//! The int8 CNN on the emulated Cortex-M4F: integer arithmetic only (the same binary builds
//! for the FPU-less Cortex-M0), weights in flash; exits with status 0 only if every digit's
//! int8 logits equal the host's, bit for bit.
#![no_std]
#![no_main]

use cortex_m_rt::{entry, exception, ExceptionFrame};
use typenet::quant::argmax_i8;
use typenet_firmware::{
    check_digits, report_hard_fault, report_panic, Outcome, CONVNET_INT8, CONVNET_MACS,
    DIGITS_INT8, EXPECTED_CONVNET_INT8,
};

#[entry]
fn main() -> ! {
    check_digits(
        "int8 CNN",
        CONVNET_MACS,
        |k| CONVNET_INT8.predict(core::hint::black_box(&DIGITS_INT8[k])),
        |k, logits| Outcome {
            class: argmax_i8(logits),
            host_class: argmax_i8(&EXPECTED_CONVNET_INT8[k]),
            matches: *logits == EXPECTED_CONVNET_INT8[k],
        },
    )
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    report_panic(info)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    report_hard_fault(frame)
}
