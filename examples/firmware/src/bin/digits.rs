//! Inference on the emulated Cortex-M4F: classifies the embedded test digits with weights in
//! flash and exits with status 0 only if every class equals the host's and every score is
//! within 1e-5 of the host's.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use typenet::argmax;
use typenet_firmware::{
    exit, fail, stack_high_water_mark, InstructionCounter, COUNT, DIGITS, EXPECTED, LABELS, NET,
    TOLERANCE,
};

/// Multiply-adds in one forward pass of 784-50-10.
const MACS: u32 = 784 * 50 + 50 * 10;

#[entry]
fn main() -> ! {
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        fail("peripherals taken twice")
    };
    let mut counter = InstructionCounter::new(peripherals.SYST);
    let mut all_match = true;
    // The first layer skips zero pixels, so the count depends on the digit.
    let (mut min_instructions, mut max_instructions, mut sum_instructions) = (u32::MAX, 0, 0);
    for k in 0..COUNT {
        let x = core::hint::black_box(&DIGITS[k]);
        let (scores, instructions) = counter.measure(|| NET.predict(core::array::from_ref(x)));
        min_instructions = min_instructions.min(instructions);
        max_instructions = max_instructions.max(instructions);
        sum_instructions += instructions;
        let class = argmax(&scores[0]);
        let host_class = argmax(&EXPECTED[k]);
        let diff = scores[0]
            .iter()
            .zip(&EXPECTED[k])
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        let ok = class == host_class && diff <= TOLERANCE;
        all_match &= ok;
        hprintln!(
            "digit {}: label {}, predicted {} (host {}), max |score - host score| {:e}, {} instructions{}",
            k,
            LABELS[k],
            class,
            host_class,
            diff,
            instructions,
            if ok { "" } else { "  MISMATCH" }
        );
    }
    let mean_instructions = sum_instructions / COUNT as u32;
    let per_mac_x100 = mean_instructions * 100 / MACS;
    hprintln!(
        "inference: {} guest instructions on average (min {}, max {}), {}.{:02} per multiply-add of the dense network ({} MACs)",
        mean_instructions,
        min_instructions,
        max_instructions,
        per_mac_x100 / 100,
        per_mac_x100 % 100,
        MACS
    );
    let (used, total) = stack_high_water_mark();
    hprintln!("stack high-water mark: {} of {} bytes", used, total);
    if all_match {
        hprintln!("all {} predictions match the host", COUNT);
        exit(true)
    } else {
        hprintln!("FAILED: predictions differ from the host");
        exit(false)
    }
}

typenet_firmware::exit_on_failure!();
