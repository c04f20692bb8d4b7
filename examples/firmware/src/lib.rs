//! What the firmware binaries share: the card's network with its weights in flash, the
//! test digits and the host's scores for them, and two measuring tools (an instruction
//! counter and the stack high-water mark).
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

/// Number of test digits embedded.
pub const COUNT: usize = 10;

/// The weights trained on the host (`cargo run --release --example train`), decoded by the
/// compiler. A file of another length does not compile: the error names both lengths.
pub static NET: TwoLayerNet<f32> =
    TwoLayerNet::<f32>::from_le_bytes(include_bytes!("../assets/weights.bin"));

/// Test digits, exactly the values the host fed to the network.
pub static DIGITS: [[f32; 784]; COUNT] =
    typenet::bytes::matrix_f32::<COUNT, 784>(include_bytes!("../assets/digits.bin"), 0);

/// The scores the host computed for [`DIGITS`].
pub static EXPECTED: [[f32; 10]; COUNT] =
    typenet::bytes::matrix_f32::<COUNT, 10>(include_bytes!("../assets/expected.bin"), 0);

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
