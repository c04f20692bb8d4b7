//! Helpers the command-line examples share (included with `#[path]`; not an example).
#![allow(dead_code)] // each example uses a part

use std::process::ExitCode;

/// Exit code 0, or a one-line `error: …` on stderr and exit code 1.
pub fn report(outcome: Result<(), String>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The median of some timings (the upper one of an even count; `NaN` for none).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
