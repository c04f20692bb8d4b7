//! What the firmware binaries share: the networks with their weights in flash (an MLP and
//! a small CNN, each in `f32` and in int8), the test digits and the host's outputs for
//! them, two measuring tools (an instruction counter and the stack high-water mark), and
//! the loop that checks every digit against the host.
//!
//! Everything here is decided at compile time: `from_le_bytes` and `typenet::bytes` are
//! `const fn`s, so the weights, digits and expected scores are `static`s in `.rodata`
//! (flash), and nothing is decoded at run time.
#![no_std]

use typenet::prelude::*;

network! {
    /// The two-layer net of chapter 5, the same declaration the host trains.
    pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}

network! {
    /// A CNN sized for a microcontroller, trained on the host by `firmware_assets`.
    pub struct TinyConvNet< Input<1, 28, 28>, Conv2d<1, 8, 5>, Relu, MaxPool<2>,
                            Conv2d<8, 16, 5>, Relu, MaxPool<2>, Affine<256, 10>, SoftmaxWithLoss >
}

/// Number of test digits embedded.
pub const COUNT: usize = 10;

/// Multiply-adds in one inference of the MLP (784-50-10).
pub const MLP_MACS: u32 = 784 * 50 + 50 * 10;

/// Multiply-adds in one inference of the CNN: 8 filters of 5×5 on 24×24 outputs, 16 of
/// 8×5×5 on 8×8, then 256 → 10.
pub const CONVNET_MACS: u32 = 8 * 576 * 25 + 16 * 64 * 200 + 256 * 10;

/// The weights trained on the host (`cargo run --release --example train`), decoded by the
/// compiler. A file of another length does not compile: the error names both lengths.
pub static NET: TwoLayerNet<f32> =
    TwoLayerNet::<f32>::from_le_bytes(include_bytes!("../assets/weights.bin"));

/// The MLP quantized to int8 on the host (its raw int8 layout, decoded by the compiler).
pub static MLP_INT8: TwoLayerNetInt8 =
    TwoLayerNetInt8::from_le_bytes(include_bytes!("../assets/mlp_int8.bin"));

/// The CNN, trained on the host.
pub static CONVNET: TinyConvNet<f32> =
    TinyConvNet::<f32>::from_le_bytes(include_bytes!("../assets/convnet.bin"));

/// The CNN quantized to int8 on the host.
pub static CONVNET_INT8: TinyConvNetInt8 =
    TinyConvNetInt8::from_le_bytes(include_bytes!("../assets/convnet_int8.bin"));

/// Test digits, exactly the values the host fed to the network.
pub static DIGITS: [[f32; 784]; COUNT] =
    typenet::bytes::matrix_f32::<COUNT, 784>(include_bytes!("../assets/digits.bin"), 0);

/// The scores the host computed for [`DIGITS`].
pub static EXPECTED: [[f32; 10]; COUNT] =
    typenet::bytes::matrix_f32::<COUNT, 10>(include_bytes!("../assets/expected.bin"), 0);

/// The test digits quantized as the int8 networks take them (`pixel − 128`).
pub static DIGITS_INT8: [[i8; 784]; COUNT] =
    typenet::bytes::matrix_i8::<COUNT, 784>(include_bytes!("../assets/digits_int8.bin"), 0);

/// The int8 logits the host computed for [`DIGITS_INT8`] with [`MLP_INT8`].
pub static EXPECTED_MLP_INT8: [[i8; 10]; COUNT] =
    typenet::bytes::matrix_i8::<COUNT, 10>(include_bytes!("../assets/expected_mlp_int8.bin"), 0);

/// The scores the host computed for [`DIGITS`] with [`CONVNET`].
pub static EXPECTED_CONVNET: [[f32; 10]; COUNT] =
    typenet::bytes::matrix_f32::<COUNT, 10>(include_bytes!("../assets/expected_convnet.bin"), 0);

/// The int8 logits the host computed for [`DIGITS_INT8`] with [`CONVNET_INT8`].
pub static EXPECTED_CONVNET_INT8: [[i8; 10]; COUNT] = typenet::bytes::matrix_i8::<COUNT, 10>(
    include_bytes!("../assets/expected_convnet_int8.bin"),
    0,
);

/// The true class of each digit.
pub static LABELS: &[u8; COUNT] = include_bytes!("../assets/labels.bin");

/// Largest allowed difference between a score on the target and on the host.
pub const TOLERANCE: f32 = 1e-5;

/// Counts guest instructions with SysTick: QEMU's `-icount shift=0` makes one instruction
/// one virtual nanosecond, and SysTick runs at the 25 MHz core clock of mps2-an386, so one
/// tick is 40 instructions. (On silicon the same count is cycles / 40 ns.)
pub struct InstructionCounter {
    syst: cortex_m::peripheral::SYST,
}

/// Instructions per SysTick tick on mps2-an386 under `-icount shift=0`.
pub const INSTRUCTIONS_PER_TICK: u32 = 40;

impl InstructionCounter {
    /// Starts SysTick free-running from its largest value.
    pub fn new(mut syst: cortex_m::peripheral::SYST) -> Self {
        use cortex_m::peripheral::syst::SystClkSource;
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(0x00FF_FFFF);
        syst.clear_current();
        syst.enable_counter();
        InstructionCounter { syst }
    }

    /// Instructions spent in `f` (to the nearest 40; at most 671 million).
    pub fn measure<R>(&mut self, f: impl FnOnce() -> R) -> (R, u32) {
        self.syst.clear_current();
        let start = cortex_m::peripheral::SYST::get_current();
        let r = f();
        let end = cortex_m::peripheral::SYST::get_current();
        (
            r,
            (start.wrapping_sub(end) & 0x00FF_FFFF) * INSTRUCTIONS_PER_TICK,
        )
    }
}

/// Bytes of stack ever used, and the stack's size. cortex-m-rt's `paint-stack` fills the
/// stack with `0xCCCC_CCCC` at reset; the first word from the bottom that differs marks
/// the deepest point reached.
pub fn stack_high_water_mark() -> (usize, usize) {
    extern "C" {
        static _stack_end: u32;
        static _stack_start: u32;
    }
    let lo = core::ptr::addr_of!(_stack_end) as usize;
    let hi = core::ptr::addr_of!(_stack_start) as usize;
    let mut p = lo;
    // SAFETY: every address in [_stack_end, _stack_start) is RAM reserved for the stack by
    // cortex-m-rt's linker script, word aligned; reading it has no side effect.
    while p < hi && unsafe { core::ptr::read_volatile(p as *const u32) } == 0xCCCC_CCCC {
        p += 4;
    }
    (hi - p, hi - lo)
}

/// How one digit went: the class predicted here, the host's, and whether the outputs agree.
pub struct Outcome {
    /// The class predicted on the device.
    pub class: usize,
    /// The class the host predicted.
    pub host_class: usize,
    /// The outputs agree with the host's (bit for bit, or within [`TOLERANCE`] for `f32`).
    pub matches: bool,
}

/// Runs `infer` on every embedded digit, counting its instructions, and `check` on each
/// result; prints a line per digit, the mean instructions per inference and per
/// multiply-add (of `macs`), and the stack high-water mark; exits with status 0 only if
/// every digit matches the host. Integer printing only, so it links on an FPU-less core
/// without floating-point code.
pub fn check_digits<R>(
    name: &str,
    macs: u32,
    mut infer: impl FnMut(usize) -> R,
    check: impl Fn(usize, &R) -> Outcome,
) -> ! {
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        fail("peripherals taken twice")
    };
    let mut counter = InstructionCounter::new(peripherals.SYST);
    let (mut min, mut max, mut sum, mut all_match) = (u32::MAX, 0, 0, true);
    for (k, label) in LABELS.iter().enumerate() {
        let (out, instructions) = counter.measure(|| infer(k));
        let o = check(k, &out);
        (min, max, sum) = (
            min.min(instructions),
            max.max(instructions),
            sum + instructions,
        );
        all_match &= o.matches && o.class == o.host_class;
        cortex_m_semihosting::hprintln!(
            "digit {}: label {}, predicted {} (host {}), {} instructions{}",
            k,
            label,
            o.class,
            o.host_class,
            instructions,
            if o.matches { "" } else { "  MISMATCH" }
        );
    }
    let mean = sum / COUNT as u32;
    let per_mac_x100 = (mean as u64 * 100 / macs as u64) as u32;
    cortex_m_semihosting::hprintln!(
        "{}: {} instructions per inference on average (min {}, max {}), {}.{:02} per multiply-add ({} MACs)",
        name,
        mean,
        min,
        max,
        per_mac_x100 / 100,
        per_mac_x100 % 100,
        macs
    );
    let (used, total) = stack_high_water_mark();
    cortex_m_semihosting::hprintln!("stack high-water mark: {} of {} bytes", used, total);
    if all_match {
        cortex_m_semihosting::hprintln!("all {} digits match the host", COUNT);
        exit(true)
    } else {
        fail("outputs differ from the host's")
    }
}

/// [`check_digits`] for an int8 network: `predict` on each of [`DIGITS_INT8`], whose logits
/// must equal `expected` (the host's) bit for bit.
pub fn check_int8_digits(
    name: &str,
    macs: u32,
    predict: impl Fn(&[i8; 784]) -> [i8; 10],
    expected: &[[i8; 10]; COUNT],
) -> ! {
    use typenet::quant::argmax_i8;
    check_digits(
        name,
        macs,
        |k| predict(core::hint::black_box(&DIGITS_INT8[k])),
        |k, logits| Outcome {
            class: argmax_i8(logits),
            host_class: argmax_i8(&expected[k]),
            matches: *logits == expected[k],
        },
    )
}

/// Reports `why` over semihosting and exits with a failure status.
pub fn fail(why: &str) -> ! {
    cortex_m_semihosting::hprintln!("error: {}", why);
    exit(false)
}

/// Ends the program through semihosting: QEMU exits with status 0 or 1.
pub fn exit(success: bool) -> ! {
    use cortex_m_semihosting::debug;
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Only reached without a debugger or semihosting host, where nothing better can be done.
    loop {
        cortex_m::asm::wfi();
    }
}

/// Defines a binary's panic handler and HardFault handler: each reports over semihosting
/// and exits with a failure status ([`report_panic`], [`report_hard_fault`]).
#[macro_export]
macro_rules! exit_on_failure {
    () => {
        #[panic_handler]
        fn panic(info: &core::panic::PanicInfo) -> ! {
            $crate::report_panic(info)
        }

        #[cortex_m_rt::exception]
        unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
            $crate::report_hard_fault(frame)
        }
    };
}

/// What a binary's panic handler does: print the panic and exit with a failure status.
pub fn report_panic(info: &core::panic::PanicInfo) -> ! {
    cortex_m_semihosting::hprintln!("panic: {}", info);
    exit(false)
}

/// What a binary's HardFault handler does: print where it happened and exit with a
/// failure status (cortex-m-rt's default handler would spin until the timeout).
pub fn report_hard_fault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
    cortex_m_semihosting::hprintln!("HardFault at pc={:#010x}", frame.pc());
    exit(false)
}
