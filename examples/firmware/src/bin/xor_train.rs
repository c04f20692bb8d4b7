//! Training on the device: a small declared network learns XOR on the emulated Cortex-M4F
//! with no heap (parameters, cache, gradients and Adam's state are all on the stack), and
//! the firmware exits with status 0 only if it reaches 100 % accuracy.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use typenet::prelude::*;
use typenet_firmware::{exit, fail, stack_high_water_mark, InstructionCounter};

network! {
    /// XOR: two inputs, four sigmoid units, two classes.
    pub struct Xor< Affine<2, 4>, Sigmoid, Affine<4, 2>, SoftmaxWithLoss >
}

const STEPS: usize = 2_000;

#[entry]
fn main() -> ! {
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        fail("peripherals taken twice")
    };
    let mut counter = InstructionCounter::new(peripherals.SYST);
    let x = [[0.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
    let t = [0, 1, 1, 0]
        .map(|c| Class::new(c).unwrap_or(Class::<2>::new(0).unwrap_or_else(|| fail("no class 0"))));

    let mut net = Xor::<f32>::with_init(Init::Xavier, 7);
    let mut optimizer = Adam::<f32, Xor<f32>>::new(0.05, 0.9, 0.999);
    let mut cache = Xor::new_cache();
    let mut grads = Xor::zeros();
    let before = net.accuracy(&x, &t);
    let (loss, instructions) = counter.measure(|| {
        let mut loss = 0.0;
        for _ in 0..STEPS {
            loss = net.gradient(&x, &t, &mut cache, &mut grads);
            optimizer.step(&mut net, &grads);
        }
        loss
    });
    let accuracy = net.accuracy(&x, &t);
    hprintln!(
        "XOR: accuracy {} before, {} after {} Adam steps (final loss {:e}); predictions {:?}",
        before,
        accuracy,
        STEPS,
        loss,
        net.classify(&x)
    );
    hprintln!(
        "training: {} guest instructions ({} per step)",
        instructions,
        instructions / STEPS as u32
    );
    let (used, total) = stack_high_water_mark();
    hprintln!("stack high-water mark: {} of {} bytes", used, total);
    if accuracy == 1.0 {
        hprintln!("XOR learned on the device, no heap");
        exit(true)
    } else {
        hprintln!("FAILED: XOR not learned");
        exit(false)
    }
}

typenet_firmware::exit_on_failure!();
